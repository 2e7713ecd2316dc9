"""Messages between the pool and its session processes (over one channel per process).

Frames travel through each session's ``FrameRing``; a message names the slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from headcast.face.avatar import Avatar
from headcast.render.remote_latency import RemoteLatency

# -- pool → host -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenSession:
    session_id: str
    avatar: Avatar
    options: dict[str, Any]  # keyword arguments of ``headcast.session.Session``


@dataclass(frozen=True)
class SessionInput:
    """``push_audio`` / ``end_segment`` / ``finalize_frames`` / ``close``, applied in order."""

    session_id: str
    action: str
    pcm: np.ndarray | None = None
    sample_rate: int = 0
    frame_count: int = 0


@dataclass(frozen=True)
class Interrupt:
    """Applied at once: input queued before it is speech the interrupt drops."""

    session_id: str


@dataclass(frozen=True)
class Credit:
    """The pool copied out the oldest frame: its slot is free."""

    session_id: str


@dataclass(frozen=True)
class Release:
    """The transport is gone: stop the session and free its memory."""

    session_id: str


# -- host → pool -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    session_id: str
    ring_name: str  # the session's FrameRing


@dataclass(frozen=True)
class FrameReady:
    """The next frame is in ``slot``. The pool numbers the frames it passes on, as it
    drops speaking frames that an interrupt made stale on their way."""

    session_id: str
    slot: int
    audio: np.ndarray
    speaking: bool
    segment: int | None


@dataclass(frozen=True)
class SegmentDone:
    session_id: str
    segment: int


@dataclass(frozen=True)
class Interrupted:
    """The interrupt has been applied: a speaking frame sent after this one shows speech pushed
    after the interrupt, and one sent before it is stale."""

    session_id: str


@dataclass(frozen=True)
class Ended:
    """The session's frames are over; ``error`` says why when it failed."""

    session_id: str
    error: str | None = None


@dataclass(frozen=True)
class EngineLatency:
    """A remote engine's latencies measured since the last report."""

    session_id: str
    latency: RemoteLatency
