"""Independent quality judge for headcast output (tests and benchmarks only, never the product).

dlib's 68-point landmarks and ResNet identity embedding, a different model family from the
mediapipe mesh the renderer uses, read the rendered video back and score lip sync, rest,
identity and stability.
"""

from quality.judge import (
    LIPS_CLOSED_APERTURE,
    SAME_PERSON_DISTANCE,
    Box,
    FaceJudge,
    FaceMeasure,
    eye_aspect_ratio,
    mouth_aperture,
)
from quality.lipsync import (
    PhoneSpan,
    av_offset_frames,
    av_sync_curve,
    bilabial_closure,
    expected_openness,
    jitter,
    openness_correlation,
    silence_rest,
    speech_envelope,
)
from quality.video import VideoData, read_audio, read_video

__all__ = [
    "LIPS_CLOSED_APERTURE",
    "SAME_PERSON_DISTANCE",
    "Box",
    "FaceJudge",
    "FaceMeasure",
    "PhoneSpan",
    "VideoData",
    "av_offset_frames",
    "av_sync_curve",
    "bilabial_closure",
    "expected_openness",
    "eye_aspect_ratio",
    "jitter",
    "mouth_aperture",
    "openness_correlation",
    "read_audio",
    "read_video",
    "silence_rest",
    "speech_envelope",
]
