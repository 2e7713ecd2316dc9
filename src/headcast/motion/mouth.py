"""Step 3 of the mouth: key shapes → smooth per-frame curves, scaled by loudness, then constrained."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.coarticulation import spread_rounding
from headcast.motion.constraints import apply_constraints
from headcast.motion.keys import mouth_keys
from headcast.motion.pchip import pchip
from headcast.motion.visemes import MOUTH_CONTROLS
from headcast.phones.track import PhoneTrack

SIGNED_CONTROLS = ("mouth_stretch",)


def mouth_curves(
    track: PhoneTrack,
    loudness: np.ndarray,
    fps: float,
    n_frames: int,
    first_frame: int = 0,
    loudness_start: int = 0,
) -> dict[str, np.ndarray]:
    """Mouth controls for frames ``first_frame … first_frame + n_frames - 1`` (frame i at i / fps).

    ``loudness`` is the envelope in [0, 1] at ``T.CURVE_RATE_HZ`` from step ``loudness_start``
    (time 0 by default; a live stream passes only its recent steps).
    """
    from scipy.ndimage import gaussian_filter1d  # costs start-up time: loaded on use

    keys = spread_rounding(mouth_keys(track))
    rate = T.CURVE_RATE_HZ
    sigma = T.SMOOTHING_SIGMA_MS / 1000
    # Evaluate on a fine grid around the wanted frames only, with margin for the smoothing.
    t0 = max(first_frame / fps - 4 * sigma, 0.0)
    t1 = (first_frame + n_frames) / fps + 4 * sigma
    fine_t = t0 + np.arange(int(np.ceil((t1 - t0) * rate)) + 2) / rate
    frame_t = (first_frame + np.arange(n_frames)) / fps
    loud = (
        np.interp(fine_t, (loudness_start + np.arange(len(loudness))) / rate, loudness)
        if len(loudness)
        else np.ones_like(fine_t)
    )
    key_t = np.array([k.time_s for k in keys])
    values = np.array([[getattr(k.shape, name) for name in MOUTH_CONTROLS] for k in keys])
    if len(key_t) >= 2:
        curves = pchip(key_t, values, fine_t)
    else:
        curves = np.zeros((len(fine_t), len(MOUTH_CONTROLS)))
    curves = gaussian_filter1d(curves, sigma * rate, axis=0, mode="nearest")
    jaw = MOUTH_CONTROLS.index("jaw_open")
    curves[:, jaw] *= T.ENERGY_FLOOR_SHARE + (1 - T.ENERGY_FLOOR_SHARE) * loud
    out: dict[str, np.ndarray] = {
        name: np.interp(frame_t, fine_t, curves[:, k]).astype(np.float32)
        for k, name in enumerate(MOUTH_CONTROLS)
    }
    apply_constraints(out, track, fps, first_frame)
    for name, curve in out.items():
        lo = -1.0 if name in SIGNED_CONTROLS else 0.0
        np.clip(curve, lo, 1.0, out=curve)
    return out
