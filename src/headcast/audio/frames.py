"""Short-time analysis a block of frames at a time, so that memory does not grow with the clip.

Each frame is computed from exactly the samples it covers, whatever block it falls in: the
results are those of the whole clip at once, and the working memory is that of one block.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

ANALYSIS_BLOCK_FRAMES = 512
"""Frames analysed at once (about 5 s at a 10 ms hop): a pitch block takes ~12 MB."""


def centered_frame_count(n_samples: int, hop: int) -> int:
    """Frames at every ``hop`` samples from the first, one past the end."""
    return int(np.ceil(n_samples / hop)) + 1


def centered_frames(
    samples: np.ndarray, hop: int, win: int, first: int, stop: int, dtype: type = np.float64
) -> np.ndarray:
    """Frames ``first``..``stop - 1`` as rows (a new array of ``dtype``): frame ``i`` holds
    the ``win`` samples from ``i * hop - win // 2``, zeros outside the clip."""
    start = first * hop - win // 2
    end = (stop - 1) * hop - win // 2 + win
    segment: np.ndarray = np.zeros(max(end - start, win), dtype)
    lo, hi = max(start, 0), min(end, len(samples))
    if hi > lo:
        segment[lo - start : hi - start] = samples[lo:hi]
    view = np.lib.stride_tricks.sliding_window_view(segment, win)[::hop][: stop - first]
    return view.copy()


def block_bounds(
    n_frames: int, block_frames: int = ANALYSIS_BLOCK_FRAMES
) -> Iterator[tuple[int, int]]:
    """``(first, stop)`` of consecutive blocks covering ``n_frames`` frames."""
    if block_frames < 1:
        raise ValueError(f"block_frames must be at least 1, got {block_frames}")
    for first in range(0, n_frames, block_frames):
        yield first, min(first + block_frames, n_frames)


def mean_square_per_window(
    samples: np.ndarray, win: int, block_frames: int = ANALYSIS_BLOCK_FRAMES
) -> np.ndarray:
    """Mean square (float64) of each whole non-overlapping ``win``-sample window."""
    n = len(samples) // win
    out = np.empty(n, np.float64)
    for first, stop in block_bounds(n, block_frames):
        frames = samples[first * win : stop * win].reshape(stop - first, win).astype(np.float64)
        out[first:stop] = np.mean(frames * frames, axis=1)
    return out
