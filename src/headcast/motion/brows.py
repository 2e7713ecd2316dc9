"""Brows rise briefly on accented syllables: vowels whose pitch peaks above the speaker's norm."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.visemes import VOWELS
from headcast.phones.track import PhoneTrack


def accent_times(track: PhoneTrack, semitones: np.ndarray) -> list[tuple[float, float]]:
    """(time, strength) of pitch accents: the vowel's peak pitch, above a threshold, spaced out."""
    rate = T.CURVE_RATE_HZ
    accents: list[tuple[float, float]] = []
    for phone in track.phones:
        if phone.label not in VOWELS:
            continue
        a, b = (
            int(phone.start_s * rate),
            max(int(phone.end_s * rate), int(phone.start_s * rate) + 1),
        )
        peak = float(np.max(semitones[a:b])) if b <= len(semitones) and b > a else 0.0
        if peak < T.BROW_ACCENT_MIN_SEMITONES:
            continue
        t = 0.5 * (phone.start_s + phone.end_s)
        strength = min(peak / (2 * T.BROW_ACCENT_MIN_SEMITONES), 1.0)
        if accents and t - accents[-1][0] < T.BROW_MIN_GAP_S:
            if strength > accents[-1][1]:
                accents[-1] = (t, strength)
            continue
        accents.append((t, strength))
    return accents


def brow_curve(
    accents: list[tuple[float, float]], fps: float, n_frames: int, first_frame: int = 0
) -> np.ndarray:
    t = (first_frame + np.arange(n_frames)) / fps
    out = np.zeros(n_frames, np.float32)
    rise, fall = T.BROW_RISE_MS / 1000, T.BROW_FALL_MS / 1000
    for time_s, strength in accents:
        rel = t - (time_s - rise)
        shape = np.where(
            rel < rise, np.clip(rel / rise, 0, 1), np.clip(1 - (rel - rise) / fall, 0, 1)
        )
        out = np.maximum(out, (T.BROW_RAISE_MAX * strength * shape).astype(np.float32))
    return out
