"""Telephone-band speech: telling it apart from wide-band speech, and making it from wide-band.

A telephone channel passes about 300-3400 Hz, and any 8 kHz recording nothing above 4 kHz,
where wide-band speech keeps its fricatives. Measured over the louder frames, 4.1-7.6 kHz
holds 10-20 dB less than 0.3-3.4 kHz in the LibriVox and GRID test recordings, and 90-116 dB
less after a telephone channel or a plain trip through 8 kHz. ``telephone_channel`` is such a channel, for tests and
benchmarks: 8 kHz, the band-pass of a handset and G.711 μ-law coding.
"""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.decode import resample

TELEPHONE_SAMPLE_RATE_HZ = 8000
TELEPHONE_LOW_HZ = 300.0
TELEPHONE_HIGH_HZ = 3400.0
HIGH_BAND_HZ = (4100.0, 7600.0)  # above any 8 kHz channel, where wide-band speech has fricatives
# Far from both, for a whole clip or a 40 ms block of one (there: wide-band at most 57 dB,
# telephone at least 69 dB). Noise added after the channel fills the high band: not telephone.
NARROW_BAND_BELOW_DB = 60.0
_ANALYSIS_FRAME = 512  # samples per spectrum frame
_LOUD_FRAMES_DB = 30.0  # frames within this of the loudest one are measured (speech, not pauses)
_BANDPASS_ORDER = 4

_ULAW_BIAS = 0x84
_ULAW_CLIP_14 = 8159
_ULAW_BIAS_14 = 0x21


def high_band_drop_db(audio: Audio) -> float:
    """How far below the 300-3400 Hz band the energy above 4.1 kHz lies, in dB, over the
    louder frames of ``audio`` (inf where there is no such energy at all; 0 for silence)."""
    x = np.asarray(audio.samples, dtype=np.float64)
    n = len(x) // _ANALYSIS_FRAME
    if n == 0:
        return 0.0
    frames = x[: n * _ANALYSIS_FRAME].reshape(n, _ANALYSIS_FRAME)
    power = np.abs(np.fft.rfft(frames * np.hanning(_ANALYSIS_FRAME), axis=1)) ** 2
    freqs = np.fft.rfftfreq(_ANALYSIS_FRAME, 1.0 / audio.sample_rate)
    total = power.sum(axis=1)
    if not np.any(total > 0):
        return 0.0
    loud = 10 * np.log10(total + 1e-30) >= 10 * np.log10(total.max()) - _LOUD_FRAMES_DB
    speech_band = (freqs >= TELEPHONE_LOW_HZ) & (freqs <= TELEPHONE_HIGH_HZ)
    high = (freqs >= HIGH_BAND_HZ[0]) & (freqs <= min(HIGH_BAND_HZ[1], audio.sample_rate / 2))
    inside = float(power[loud][:, speech_band].sum())
    above = float(power[loud][:, high].sum()) if high.any() else 0.0
    if inside <= 0:
        return 0.0
    if above <= 0:
        return float("inf")
    return 10 * np.log10(inside / above)


def is_telephone_band(audio: Audio) -> bool:
    """True for speech with nothing above the telephone band: an 8 kHz (or lower) recording,
    or one that went through a telephone channel before it was resampled."""
    if audio.sample_rate <= TELEPHONE_SAMPLE_RATE_HZ:
        return True
    return high_band_drop_db(audio) >= NARROW_BAND_BELOW_DB


def ulaw_encode(samples: np.ndarray) -> np.ndarray:
    """G.711 μ-law code bytes of float samples in [-1, 1] (as ``audioop.lin2ulaw``)."""
    pcm = np.clip(np.rint(np.asarray(samples, np.float64) * 32768), -32768, 32767).astype(np.int32)
    pcm >>= 2  # G.711 codes 14 bits
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), _ULAW_CLIP_14) + _ULAW_BIAS_14
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 5
    mantissa = np.where(exponent > 7, 0x0F, (magnitude >> (exponent + 1)) & 0x0F)
    exponent = np.minimum(exponent, 7)  # past the last segment: its top code
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def ulaw_decode(codes: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] of G.711 μ-law code bytes (as ``audioop.ulaw2lin``)."""
    u = ~np.asarray(codes, np.int32) & 0xFF
    exponent = (u >> 4) & 0x07
    magnitude = (((u & 0x0F) << 3) + _ULAW_BIAS << exponent) - _ULAW_BIAS
    return (np.where(u & 0x80, -magnitude, magnitude) / 32768.0).astype(np.float32)


def telephone_channel(audio: Audio) -> Audio:
    """``audio`` as a telephone call carries it: resampled to 8 kHz, band-passed to
    300-3400 Hz (4th-order Butterworth, causal as in a handset) and μ-law coded, then
    brought back to ``audio``'s own rate."""
    from scipy.signal import butter, sosfilt

    narrow = resample(audio.samples, audio.sample_rate, TELEPHONE_SAMPLE_RATE_HZ)
    sos = butter(
        _BANDPASS_ORDER,
        (TELEPHONE_LOW_HZ, TELEPHONE_HIGH_HZ),
        btype="bandpass",
        fs=TELEPHONE_SAMPLE_RATE_HZ,
        output="sos",
    )
    band = sosfilt(sos, narrow).astype(np.float32)
    coded = ulaw_decode(ulaw_encode(band))
    return Audio(resample(coded, TELEPHONE_SAMPLE_RATE_HZ, audio.sample_rate), audio.sample_rate)
