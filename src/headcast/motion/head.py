"""Head motion: a slow idle sway, nods with loudness, and lift and tilt that follow pitch."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T


def _sway(n_frames: int, fps: float, amplitude_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth noise: three incommensurate sines with random phases."""
    t = np.arange(n_frames) / fps
    out = np.zeros(n_frames)
    for ratio, share in ((1.0, 0.6), (0.53, 0.3), (2.3, 0.1)):
        period = T.HEAD_SWAY_PERIOD_S / ratio * rng.uniform(0.8, 1.25)
        out += share * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return (amplitude_deg * out).astype(np.float32)


def head_curves(
    loudness_per_frame: np.ndarray,
    semitones_per_frame: np.ndarray,
    fps: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    from scipy.ndimage import gaussian_filter1d  # scipy costs start-up time; load it on use

    n = len(loudness_per_frame)
    smooth = T.HEAD_NOD_SMOOTHING_MS / 1000 * fps
    nod = gaussian_filter1d(loudness_per_frame.astype(np.float64), smooth)
    octaves = gaussian_filter1d(semitones_per_frame.astype(np.float64) / 12.0, 2 * smooth)
    pitch = _sway(n, fps, T.HEAD_SWAY_PITCH_DEG, rng) + T.HEAD_NOD_DEG * nod
    pitch -= T.HEAD_PITCH_FOLLOWS_F0_DEG_PER_OCTAVE * octaves
    roll = (
        _sway(n, fps, T.HEAD_SWAY_ROLL_DEG, rng) + T.HEAD_TILT_FOLLOWS_F0_DEG_PER_OCTAVE * octaves
    )
    return {
        "head_yaw_deg": _sway(n, fps, T.HEAD_SWAY_YAW_DEG, rng),
        "head_pitch_deg": pitch.astype(np.float32),
        "head_roll_deg": roll.astype(np.float32),
    }
