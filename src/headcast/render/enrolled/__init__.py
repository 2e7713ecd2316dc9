"""The enrolled engine: a person's own frames with mouths from their own clip."""

from headcast.render.enrolled.engine import EnrolledEngine

__all__ = ["EnrolledEngine"]
