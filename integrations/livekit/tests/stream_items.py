"""Reading what a HeadcastVideoGenerator yields, as the AvatarRunner would, into a list."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd

from headcast_livekit import HeadcastVideoGenerator

Item = rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd


@dataclass
class Collected:
    items: list[Item] = field(default_factory=list)

    def count(self, kind: type) -> int:
        return sum(isinstance(i, kind) for i in self.items)

    def audio(self, items: list[Item] | None = None) -> np.ndarray:
        frames = [
            i for i in (self.items if items is None else items) if isinstance(i, rtc.AudioFrame)
        ]
        if not frames:
            return np.zeros(0, np.int16)
        return np.concatenate([np.frombuffer(f.data, np.int16) for f in frames])

    async def until(self, condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
        async with asyncio.timeout(timeout_s):
            while not condition():
                await asyncio.sleep(0.01)


async def read_into(generator: HeadcastVideoGenerator, collected: Collected) -> None:
    async for item in generator:
        collected.items.append(item)


def speaking_video_frames(items: list[Item]) -> int:
    """Video frames followed by their audio: the speaking ones."""
    return sum(
        isinstance(a, rtc.VideoFrame) and isinstance(b, rtc.AudioFrame)
        for a, b in itertools.pairwise(items)
    )


def best_correlation(a: np.ndarray, b: np.ndarray, max_lag: int) -> float:
    """The highest correlation of ``a`` and ``b`` over lags up to ``max_lag`` samples,
    normalised by their whole energies (1.0: the same signal, shifted)."""
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    cross = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lags = np.concatenate([cross[: max_lag + 1], cross[-max_lag:]])
    return float(lags.max() / np.sqrt((a * a).sum() * (b * b).sum()))
