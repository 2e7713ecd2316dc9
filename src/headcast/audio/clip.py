"""The Audio value: mono float32 samples at a known rate."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

ANALYSIS_SAMPLE_RATE_HZ = 16_000
_JOIN_MIN_SAMPLES = 1 << 16
MAX_RESERVE_SAMPLES = 1 << 27  # 512 MiB of address space, at most, reserved for one clip


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """Float samples in [-1, 1] as int16 PCM, rounded and clipped."""
    return np.clip(np.rint(samples * 32767), -32768, 32767).astype(np.int16)


def join_chunks(chunks: Iterable[np.ndarray], reserve_samples: int = 0) -> np.ndarray:
    """Float32 chunks joined into one array, grown in place, so that the joined copy and the
    chunks never sit side by side.

    ``reserve_samples`` (the most there can be, e.g. the length limit) is reserved up front:
    pages no sample reaches are never touched, and the array never moves. Beyond it, the array
    doubles (realloc, which may copy).
    """
    reserve = min(max(reserve_samples, 0), MAX_RESERVE_SAMPLES)
    out = np.empty(max(reserve, _JOIN_MIN_SAMPLES), np.float32)
    filled = 0
    for chunk in chunks:
        if filled + chunk.size > out.size:
            out.resize(max(2 * out.size, filled + chunk.size), refcheck=False)
        out[filled : filled + chunk.size] = chunk
        filled += chunk.size
    out.resize(filled, refcheck=False)
    return out
