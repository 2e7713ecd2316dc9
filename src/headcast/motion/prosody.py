"""Loudness of speech over time, the prosody cue that scales the mouth and drives nods."""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import Audio
from headcast.motion import tunables as T


def loudness_envelope(audio: Audio) -> np.ndarray:
    """RMS loudness in [0, 1] at ``T.CURVE_RATE_HZ``, normalised to the clip's loud parts."""
    hop = max(round(audio.sample_rate / T.CURVE_RATE_HZ), 1)
    win = max(round(audio.sample_rate * T.ENERGY_WINDOW_MS / 1000), hop)
    x = audio.samples.astype(np.float32)
    n = int(np.ceil(len(x) / hop)) + 1
    padded = np.pad(x, (win // 2, win + n * hop - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, win)[::hop][:n]
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    db = 20 * np.log10(rms + 1e-9)
    loud = np.percentile(db, 95) if len(db) else 0.0
    # 30 dB below the loud parts counts as silent.
    return np.clip((db - (loud - 30.0)) / 30.0, 0.0, 1.0).astype(np.float32)
