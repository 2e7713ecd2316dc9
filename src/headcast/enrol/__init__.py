"""Enrolling a person from a video: tracking, the mouth atlas, the base graph, coverage."""

from headcast.enrol.coverage import CoverageReport
from headcast.enrol.enrol import EnrolmentResult, enrol_video

__all__ = ["CoverageReport", "EnrolmentResult", "enrol_video"]
