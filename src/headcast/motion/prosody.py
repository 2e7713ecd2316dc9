"""Prosody: loudness and pitch (F0) over time — the cues for mouth scale, nods and brows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.pitch import pitch_hz
from headcast.motion import tunables as T


def _frames(audio: Audio, window_ms: float) -> np.ndarray:
    hop = max(int(round(audio.sample_rate / T.CURVE_RATE_HZ)), 1)
    win = max(int(round(audio.sample_rate * window_ms / 1000)), hop)
    x = audio.samples.astype(np.float32)
    n = int(np.ceil(len(x) / hop)) + 1
    padded = np.pad(x, (win // 2, win + n * hop - len(x)))
    return np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]


def loudness_envelope(audio: Audio) -> np.ndarray:
    """RMS loudness in [0, 1] at ``T.CURVE_RATE_HZ``, normalised to the clip's loud parts."""
    frames = _frames(audio, T.ENERGY_WINDOW_MS)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-9)
    loud = np.percentile(db, 95) if len(db) else 0.0
    # 30 dB below the loud parts counts as silent.
    return np.clip((db - (loud - 30.0)) / 30.0, 0.0, 1.0).astype(np.float32)


def pitch_track(audio: Audio) -> np.ndarray:
    """F0 in Hz at ``T.CURVE_RATE_HZ``; NaN where unvoiced."""
    return pitch_hz(audio.samples, audio.sample_rate)


def semitones_from_median(f0: np.ndarray) -> np.ndarray:
    """Pitch relative to the speaker's median, in semitones; 0 where unvoiced."""
    voiced = np.isfinite(f0)
    if not voiced.any():
        return np.zeros_like(f0)
    median = float(np.median(f0[voiced]))
    out = np.zeros_like(f0)
    out[voiced] = 12 * np.log2(f0[voiced] / median)
    return out


@dataclass(frozen=True)
class Prosody:
    """What the motion takes from the sound itself, at ``T.CURVE_RATE_HZ``: it needs no phones,
    so it can be measured while they are being found."""

    loudness: np.ndarray  # loudness_envelope
    semitones: np.ndarray  # semitones_from_median of the pitch track


def prosody_of(audio: Audio) -> Prosody:
    return Prosody(loudness_envelope(audio), semitones_from_median(pitch_track(audio)))
