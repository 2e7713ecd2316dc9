"""Audio input: decoding any format to mono float32 at the analysis rate."""

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio
from headcast.audio.decode import conform_audio, is_silent, load_audio, resample

__all__ = [
    "ANALYSIS_SAMPLE_RATE_HZ",
    "Audio",
    "conform_audio",
    "is_silent",
    "load_audio",
    "resample",
]
