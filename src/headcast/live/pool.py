"""Live sessions run in a few session processes; the parent holds a ``RemoteSession`` for each.

A ``RemoteSession`` speaks the session protocol (``headcast.live.protocol.LiveSession``: push
audio, end a segment, interrupt, close, iterate frames), so a transport does not know where
its frames are made.
New sessions go to the process with the fewest; processes start when needed, up to the limit
(by default each session gets its own: a process runs its Python on one core at a time, so
sessions sharing one wait on each other), from a fork server that has the renderer and
recognizer imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from headcast.face.avatar import Avatar
from headcast.live.backlog import AudioBacklog
from headcast.live.frame_ring import FrameRing
from headcast.live.host import host_main
from headcast.live.wire import (
    Credit,
    Ended,
    EngineLatency,
    FrameReady,
    Interrupt,
    Interrupted,
    Opened,
    OpenSession,
    Release,
    SegmentDone,
    SessionInput,
)
from headcast.live.worker_process import WorkerGone, WorkerProcess
from headcast.render.remote_latency import RemoteLatency
from headcast.session import SegmentFinished, VideoFrame

PROCESS_EXIT_WAIT_S = 5.0
PROCESS_STOPPED = "the session process stopped"

# Modules headcast imports only where they are used, to start quickly: a session process
# would otherwise pay for them (about half a second) in its first turn.
LOADED_ON_USE = ("scipy.ndimage",)


class SessionFailed(RuntimeError):
    """A session could not be opened, or its process failed while it ran."""


class SessionProcess:
    """One session process and the threads writing and reading its channel."""

    def __init__(self, context: multiprocessing.context.ForkServerContext, number: int) -> None:
        name = f"headcast-sessions-{number}"
        try:
            self.worker = WorkerProcess.forked(context, host_main, name)
        except WorkerGone as gone:
            raise SessionFailed(f"no session process: {gone}") from None
        # Writes go through a thread: a full channel must never stall the event loop.
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self.sessions: dict[str, RemoteSession] = {}
        self.alive = True
        self._writer = threading.Thread(target=self._write, name=f"{name}-writer", daemon=True)
        self._writer.start()
        threading.Thread(target=self._read, name=f"{name}-reader", daemon=True).start()

    @property
    def pid(self) -> int | None:
        return self.worker.pid

    def send(self, message: object) -> None:
        if not self.alive:
            raise SessionFailed(PROCESS_STOPPED)
        self._outbox.put(message)

    def _write(self) -> None:
        while (message := self._outbox.get()) is not None:
            try:
                self.worker.send(message)
            except WorkerGone:
                break
        self.alive = False

    def _read(self) -> None:
        while True:
            try:
                message = self.worker.receive()
            except WorkerGone as gone:
                reason = f"{PROCESS_STOPPED}: {gone}"
                break
            session = self.sessions.get(message.session_id)
            if session is not None:
                session._deliver(message)
        self.alive = False
        for session_id, session in list(self.sessions.items()):
            session._deliver(Ended(session_id, reason))

    def stop(self) -> None:
        self.alive = False
        self._outbox.put(None)  # after what is queued: the process reads it all, then ends
        self._writer.join(PROCESS_EXIT_WAIT_S)
        self.worker.stop(PROCESS_EXIT_WAIT_S)


class RemoteSession:
    """A live session made by a session process (a ``LiveSession``)."""

    def __init__(
        self,
        process: SessionProcess,
        session_id: str,
        avatar: Avatar,
        options: dict[str, Any],
        max_backlog_s: float = math.inf,
    ) -> None:
        self.session_id = session_id
        self.fps = float(options["fps"])
        self.output_rate = int(options["output_rate"])
        # Counted here, before the channel: refused audio never reaches the session process.
        self.backlog = AudioBacklog(max_backlog_s, 1 / self.fps)
        self._request = OpenSession(session_id, avatar, options)
        self._process = process
        self._size = avatar.size_px
        self._loop = asyncio.get_running_loop()
        self._inbox: asyncio.Queue = asyncio.Queue()
        self._ring: FrameRing | None = None
        self._closed = False
        self._released = False
        self._frame_count = 0  # frames passed on: the next one's index
        self._unacknowledged = 0  # interrupts sent that the session process has not applied yet
        self._cut: set[int] = set()  # segments whose stale frames were dropped here
        # Told each remote engine latency report, as frames are iterated.
        self.on_remote_latency: Callable[[RemoteLatency], None] | None = None
        process.sessions[session_id] = self

    async def _start(self) -> None:
        self._process.send(self._request)
        reply = await self._inbox.get()
        if isinstance(reply, Ended):
            raise SessionFailed(reply.error or "the session could not be opened")
        assert isinstance(reply, Opened)
        self._ring = FrameRing.attach(reply.ring_name, self._size)

    @property
    def process_id(self) -> int | None:
        """The operating system's id of the process that makes this session's frames."""
        return self._process.pid

    def _deliver(self, message: object) -> None:
        """From the channel's reader thread."""
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening
            self._loop.call_soon_threadsafe(self._inbox.put_nowait, message)

    # -- input -------------------------------------------------------------------------------

    def push_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """Queue speech (int16 or float, mono, any rate); it joins the open segment.

        Raises ``BacklogFull`` (nothing queued) when the session's backlog has no room for it.
        """
        if self._closed:
            raise RuntimeError("push_audio on a closed session")
        self.backlog.admit(len(pcm) / sample_rate)
        samples = np.ascontiguousarray(pcm)
        self._process.send(SessionInput(self.session_id, "push_audio", samples, int(sample_rate)))

    def finalize_frames(self, frame_count: int) -> None:
        """Make the open segment's first ``frame_count`` frames final now."""
        self._input("finalize_frames", frame_count=int(frame_count))

    def end_segment(self) -> None:
        self.backlog.end_turn()
        self._input("end_segment")

    def interrupt(self) -> None:
        """Drop all queued speech at once; the next frame passed on is idle."""
        if not self._released:
            self.backlog.clear()
            with contextlib.suppress(SessionFailed):
                self._process.send(Interrupt(self.session_id))
                self._unacknowledged += 1

    def close(self) -> None:
        """No more input; iteration ends once queued speech has been shown."""
        if not self._closed:
            self.backlog.end_turn()
            self._input("close")
            self._closed = True

    def _input(self, action: str, **fields: Any) -> None:
        if self._released:
            return
        with contextlib.suppress(SessionFailed):
            self._process.send(SessionInput(self.session_id, action, **fields))

    # -- output ------------------------------------------------------------------------------

    async def frames(self) -> AsyncIterator[VideoFrame | SegmentFinished]:
        """Frames in order and segment-finished events, as ``Session.frames`` yields them.

        Speaking frames still on their way when ``interrupt`` is called are dropped (frames
        wait here while a transport sends slowly), and the frames passed on are numbered
        without a gap.
        """
        while not self._released:
            message = await self._inbox.get()
            if isinstance(message, FrameReady):
                assert self._ring is not None
                stale = message.speaking and self._unacknowledged > 0
                image = None if stale else self._ring.frames[message.slot].copy()
                with contextlib.suppress(SessionFailed):
                    self._process.send(Credit(self.session_id))
                if image is None:
                    assert message.segment is not None
                    self._cut.add(message.segment)
                    continue
                if message.speaking:
                    self.backlog.played(len(message.audio) / self.output_rate)
                index = self._frame_count
                self._frame_count += 1
                yield VideoFrame(
                    index, index / self.fps, image, message.audio,
                    message.speaking, message.segment,
                )  # fmt: skip
            elif isinstance(message, EngineLatency):
                if self.on_remote_latency is not None:
                    self.on_remote_latency(message.latency)
            elif isinstance(message, Interrupted):
                self._unacknowledged -= 1
            elif isinstance(message, SegmentDone):
                if self._unacknowledged == 0:  # else its speech went with the interrupt
                    self.backlog.turn_done()
                if message.segment not in self._cut:
                    yield SegmentFinished(message.segment, self._frame_count / self.fps)
            elif isinstance(message, Ended):
                if message.error:
                    raise SessionFailed(message.error)
                return

    def release(self) -> None:
        """Stop the session and free its memory in the session process; safe to repeat."""
        if self._released:
            return
        self._released = True
        self._closed = True
        self._process.sessions.pop(self.session_id, None)
        with contextlib.suppress(SessionFailed):
            self._process.send(Release(self.session_id))
        if self._ring is not None:
            # A session process that died left its ring behind: it is freed here instead.
            self._ring.close(unlink=not self._process.worker.running())
            self._ring = None
        # Wake a reader blocked on the inbox so that its iteration ends.
        self._inbox.put_nowait(Ended(self.session_id))


class SessionPool:
    """Up to ``max_processes`` session processes, started as sessions need them."""

    def __init__(self, max_processes: int) -> None:
        self.max_processes = max(1, max_processes)
        self._processes: list[SessionProcess] = []
        self._lock = asyncio.Lock()
        self._started = 0

    async def open(
        self, avatar: Avatar, session_id: str, max_backlog_s: float = math.inf, **options: Any
    ) -> RemoteSession:
        """A new session on the least busy process (starting one if all are busy), holding at
        most ``max_backlog_s`` of speech ahead of playback."""
        async with self._lock:
            process = await self._least_busy()
            session = RemoteSession(process, session_id, avatar, options, max_backlog_s)
        try:
            await session._start()
        except BaseException:
            session.release()
            raise
        return session

    async def _least_busy(self) -> SessionProcess:
        self._processes = [p for p in self._processes if p.alive]
        idle = min(self._processes, key=lambda p: len(p.sessions), default=None)
        if idle is not None and (not idle.sessions or len(self._processes) >= self.max_processes):
            return idle
        self._started += 1
        process = await asyncio.to_thread(SessionProcess, session_processes(), self._started)
        self._processes.append(process)
        return process

    def session_counts(self) -> list[int]:
        """Sessions on each running session process."""
        return [len(p.sessions) for p in self._processes if p.alive]

    def process_ids(self) -> list[int]:
        return [p.pid for p in self._processes if p.alive and p.pid is not None]

    def close(self) -> None:
        processes, self._processes = self._processes, []
        for process in processes:
            process.stop()


def session_processes() -> multiprocessing.context.ForkServerContext:
    """Where session processes come from: forks of a fork server that has the heavy modules
    imported once, each ready in milliseconds and never a fork of this threaded process (the
    fork server is one per program, so whatever starts it first sets what it imports)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["headcast.live.host", *LOADED_ON_USE])
    return context
