"""Lip sync of what a WebRTC peer received, judged by arrival time: the mouth opening of each
picture against the loudness of each audio packet. Shared by tests/test_webrtc.py and
benchmarks/bench_webrtc.py."""

from __future__ import annotations

import numpy as np

FRAME_S = 0.04  # the grid both signals are resampled on: one 25 fps frame


def apertures(judge, pictures: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """(arrival s, judged inner-lip aperture) for every picture with a face."""
    rows, box = [], None
    for at, image in pictures:
        measure = judge.measure(image, box)
        box = measure.box if measure else None
        if measure is not None:
            rows.append((at, measure.aperture))
    return np.array(rows)


def best_lag_frames(
    packets: list[tuple[float, float]], mouth: np.ndarray, max_lag_frames: int
) -> tuple[int, float]:
    """Lag (in 40 ms frames, + = mouth after sound, within ±``max_lag_frames``) maximising the
    correlation of the received audio's loudness (arrival s, RMS) with the judged mouth
    opening (``apertures``), and that correlation."""
    audio = np.array(packets)
    start, stop = max(audio[0, 0], mouth[0, 0]), min(audio[-1, 0], mouth[-1, 0])
    grid = np.arange(start, stop, FRAME_S)
    smooth = np.ones(3) / 3  # a syllable spans several frames; single packets are noisy
    loudness = np.convolve(np.interp(grid, audio[:, 0], audio[:, 1]), smooth, "same")
    opening = np.convolve(np.interp(grid, mouth[:, 0], mouth[:, 1]), smooth, "same")
    scores = {}
    for lag in range(-max_lag_frames, max_lag_frames + 1):
        a = loudness[: len(grid) - lag] if lag >= 0 else loudness[-lag:]
        b = opening[lag:] if lag >= 0 else opening[: len(grid) + lag]
        scores[lag] = float(np.corrcoef(a, b)[0, 1])
    lag = max(scores, key=scores.get)
    return lag, scores[lag]
