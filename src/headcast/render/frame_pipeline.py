"""Frames asked of an engine and handed back in order, whatever its kind.

A local engine's frame is drawn in a worker thread when it is awaited, at once after it is
asked for. A remote engine's frames take ``frame_latency_ms`` to come back, so they are asked for
that far ahead: up to ``lead_frames`` frames are on their way while the oldest is awaited,
and a live caller that asks a frame per tick shows each one ``lead_frames`` ticks later.

After an interrupt, a remote engine session that can ``cancel`` drops the work it still has
queued: the frames of the cut speech go, and those asked after them that were not back yet
are asked again, so the idle face follows without waiting behind the stale speech.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from headcast.render.capabilities import EngineCapabilities, EngineKind
from headcast.render.engine import FrameRequest
from headcast.render.remote_latency import RemoteLatency


@dataclass
class PipelineEntry:
    """A frame on its way (a remote ``image``, or a local one not yet drawn) with its
    ``request`` and what the caller carries beside it, or the end of a segment behind the
    frames asked before it (``finished``)."""

    carried: Any
    segment: int | None
    request: FrameRequest | None = None
    image: asyncio.Future[np.ndarray] | None = None
    remote: Future[np.ndarray] | None = None
    finished: int | None = None

    def cancel(self) -> None:
        if self.image is not None:
            self.image.cancel()
        if self.remote is not None:
            self.remote.cancel()


def lead_frames(capabilities: EngineCapabilities, fps: float) -> int:
    """How many frames are asked for ahead of the one awaited."""
    if capabilities.kind is not EngineKind.REMOTE:
        return 0
    return math.ceil(capabilities.frame_latency_ms / 1000 * fps - 1e-9)


class FramePipeline:
    """The frames asked of one engine session, in order (used from one event loop)."""

    def __init__(self, engine_session: Any, capabilities: EngineCapabilities, fps: float) -> None:
        self._session = engine_session
        self._remote = capabilities.kind is EngineKind.REMOTE
        self.lead_frames = lead_frames(capabilities, fps)
        self._entries: deque[PipelineEntry] = deque()
        self.cut_dropped = 0  # frames of cut segments dropped before they were handed out

    def ask(self, request: FrameRequest, carried: Any, segment: int | None) -> None:
        """Start the frame for ``request``."""
        entry = PipelineEntry(carried, segment, request=request)
        if self._remote:
            self._submit(entry)
        self._entries.append(entry)

    def _submit(self, entry: PipelineEntry) -> None:
        remote: Future[np.ndarray] = self._session.submit(entry.request)
        entry.remote = remote
        entry.image = asyncio.wrap_future(remote)

    def cancel_cut(self, is_cut: Callable[[int], bool]) -> None:
        """Have a remote engine drop its queued work when frames of cut segments are on their
        way; the frames asked after them and not back yet are asked again."""
        cancel = getattr(self._session, "cancel", None)
        if not self._remote or cancel is None:
            return
        if not any(_is_cut_frame(e, is_cut) for e in self._entries):
            return
        cancel()
        kept: deque[PipelineEntry] = deque()
        for entry in self._entries:
            if _is_cut_frame(entry, is_cut):
                entry.cancel()
                self.cut_dropped += 1
                continue
            if entry.remote is not None and entry.remote.cancelled():
                self._submit(entry)
            kept.append(entry)
        self._entries.clear()
        self._entries.extend(kept)

    def end_segment(self, segment: int) -> None:
        """Mark the end of ``segment``, to be handed out after its frames."""
        self._entries.append(PipelineEntry(None, None, finished=segment))

    def on_their_way(self, is_cut: Callable[[int], bool]) -> int:
        """Frames asked for and not handed out, leaving out those of cut segments."""
        if not self._entries:
            return 0
        return sum(
            e.finished is None and (e.segment is None or not is_cut(e.segment))
            for e in self._entries
        )

    async def next_due(
        self, is_cut: Callable[[int], bool], *, everything: bool, ready_only: bool
    ) -> tuple[PipelineEntry, np.ndarray | None] | None:
        """The oldest entry with its frame, once it is due, or None.

        Due are: every one when ``everything``; those already back when ``ready_only``; else
        those beyond the lead (a local engine's lead is none: its frame is awaited at once).
        Frames of segments cut meanwhile are dropped.
        """
        entries = self._entries
        while entries:
            head = entries[0]
            if head.finished is not None:
                return entries.popleft(), None
            if head.segment is not None and is_cut(head.segment):
                entries.popleft().cancel()
                self.cut_dropped += 1
                continue
            if not self._remote:  # a local engine's: drawn now
                entries.popleft()
                image = await asyncio.to_thread(self._session.render, head.request)
            else:
                assert head.image is not None
                asked = sum(e.finished is None for e in entries)
                back = ready_only and head.image.done()
                if not (everything or asked > self.lead_frames or back):
                    return None
                image = await head.image
                entries.popleft()
            if head.segment is not None and is_cut(head.segment):
                continue  # cut while it was drawn
            return head, image
        return None

    def remote_latency(self) -> RemoteLatency | None:
        """A remote engine's latencies measured since the last call, if it measures them."""
        take = getattr(self._session, "take_latency", None)
        return take() if take is not None else None

    def close(self) -> None:
        """Drop what is on its way and close the engine session."""
        for entry in self._entries:
            entry.cancel()
        self._entries.clear()
        self._session.close()


def _is_cut_frame(entry: PipelineEntry, is_cut: Callable[[int], bool]) -> bool:
    return entry.finished is None and entry.segment is not None and is_cut(entry.segment)
