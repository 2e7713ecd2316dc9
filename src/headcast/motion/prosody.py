"""Prosody: loudness and pitch (F0) over time — the cues for mouth scale, nods and brows."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.frames import (
    ANALYSIS_BLOCK_FRAMES,
    block_bounds,
    centered_frame_count,
    centered_frames,
)
from headcast.audio.pitch import pitch_hz
from headcast.motion import tunables as T


def loudness_envelope(audio: Audio, *, block_frames: int = ANALYSIS_BLOCK_FRAMES) -> np.ndarray:
    """RMS loudness in [0, 1] at ``T.CURVE_RATE_HZ``, normalised to the clip's loud parts.

    Frames are measured ``block_frames`` at a time: the result is the same for any block size.
    """
    hop = max(int(round(audio.sample_rate / T.CURVE_RATE_HZ)), 1)
    win = max(int(round(audio.sample_rate * T.ENERGY_WINDOW_MS / 1000)), hop)
    n = centered_frame_count(len(audio.samples), hop)
    rms = np.empty(n, np.float64)
    for first, stop in block_bounds(n, block_frames):
        # float32 first: the frames are the clip's samples as float32, squared in float64
        frames = centered_frames(audio.samples, hop, win, first, stop, np.float32)
        rms[first:stop] = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
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
