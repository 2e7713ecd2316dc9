"""The session protocol every live transport speaks to: push audio, end a segment, interrupt,
iterate frames.

``headcast.session.Session`` (frames made in this process) and ``headcast.live.pool.RemoteSession``
(frames made by a session process) both have it, so a transport does not know where its frames
are made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

import numpy as np

from headcast.session import SegmentFinished, VideoFrame


@runtime_checkable
class LiveSession(Protocol):
    """One avatar speaking live: speech in, frames and segment ends out."""

    @property
    def fps(self) -> float:
        """Frames per second of ``frames``."""
        ...

    @property
    def output_rate(self) -> int:
        """Sample rate (Hz) of the audio each frame carries."""
        ...

    def push_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue speech (int16 or float, mono, any rate); it joins the open segment."""
        ...

    def finalize_frames(self, frame_count: int) -> None:
        """Make the open segment's first ``frame_count`` frames final now."""
        ...

    def end_segment(self) -> None:
        """The open segment is complete: its remaining frames can be produced."""
        ...

    def interrupt(self) -> None:
        """Drop all queued speech at once; the next frame is idle."""
        ...

    def close(self) -> None:
        """No more input; iteration ends once queued speech has been shown."""
        ...

    def frames(self) -> AsyncIterator[VideoFrame | SegmentFinished]:
        """Frames in order and segment-finished events."""
        ...
