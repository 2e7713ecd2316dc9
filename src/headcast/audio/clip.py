"""The Audio value: mono float32 samples at a known rate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANALYSIS_SAMPLE_RATE_HZ = 16_000


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.samples) / float(self.sample_rate)
