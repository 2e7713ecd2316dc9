"""Gaze: steady fixations near the camera with quick saccades between them, and an occasional
glance away at the start of a pause, as people do when they gather their thoughts."""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T


def gaze_curves(
    duration_s: float, pauses_s: list[float], fps: float, n_frames: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    targets: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)]  # time, x, y
    t = rng.exponential(T.GAZE_FIXATION_MEAN_S)
    while t < duration_s:
        targets.append((t, rng.normal(0, T.GAZE_JITTER), rng.normal(0, T.GAZE_JITTER * 0.6)))
        t += max(rng.exponential(T.GAZE_FIXATION_MEAN_S), 0.4)
    for pause in pauses_s:
        if rng.random() < T.GAZE_AWAY_PROBABILITY:
            side = rng.choice([-1.0, 1.0])
            targets.append((pause, side * T.GAZE_AWAY, -0.3 * T.GAZE_AWAY))
            targets.append((pause + rng.uniform(0.6, 1.2), 0.0, 0.0))
    targets.sort()
    times = np.array([x[0] for x in targets])
    frame_t = np.arange(n_frames) / fps
    idx = np.clip(np.searchsorted(times, frame_t, side="right") - 1, 0, len(targets) - 1)
    gx = np.array([x[1] for x in targets])[idx]
    gy = np.array([x[2] for x in targets])[idx]
    # Saccades are fast but not instantaneous: a short ramp between fixations.
    width = max(int(round(T.GAZE_SACCADE_MS / 1000 * fps)), 1)
    kernel = np.ones(width) / width
    if width > 1:
        gx = np.convolve(np.pad(gx, (width - 1, 0), mode="edge"), kernel, mode="valid")
        gy = np.convolve(np.pad(gy, (width - 1, 0), mode="edge"), kernel, mode="valid")
    return {
        "gaze_x": np.clip(gx, -1, 1).astype(np.float32),
        "gaze_y": np.clip(gy, -1, 1).astype(np.float32),
    }
