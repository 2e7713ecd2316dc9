"""Speech → face motion: mouth shapes, blinks and head movement per video frame."""

from headcast.motion.build import build_motion, frame_count
from headcast.motion.face_motion import CONTROL_NAMES, FaceMotion, MotionTrack

__all__ = ["CONTROL_NAMES", "FaceMotion", "MotionTrack", "build_motion", "frame_count"]
