"""The enrolled engine: a person's own frames with mouths from their own clip."""

from headcast.render.enrolled.engine import EnrolledEngine, base_joins

__all__ = ["EnrolledEngine", "base_joins"]
