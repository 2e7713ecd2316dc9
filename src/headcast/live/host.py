"""A session process: hosts live ``Session``s for the pool, so that they use every core.

One Python process cannot keep several sessions' lip-sync and rendering on more than about one
core; the pool spreads its live sessions over a few of these processes. The channel's reader
(this process's main thread) hands each session's input to that session's own thread in order,
applies interrupts at once, and frames are produced on an event loop and written into the
session's shared-memory ring.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import queue
import threading
from collections import deque
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from headcast.errors import HeadcastError
from headcast.live.frame_ring import FRAME_SLOTS, FrameRing
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
from headcast.live.worker_process import MessageChannel
from headcast.session import Session, VideoFrame

RELEASE_WAIT_S = 5.0
# Joined pushes stay short: the frames of a long join would all wait for its analysis.
MAX_JOINED_PUSH_S = 0.1


@dataclass
class _Hosted:
    open: OpenSession
    inputs: queue.Queue = field(default_factory=queue.Queue)  # (generation, message) or None
    generation: int = 0  # raised by each interrupt: older queued input is dropped speech
    # Held while an interrupt is applied and acknowledged, and while a frame is checked and
    # sent, so that every frame sent after the acknowledgement is checked against it.
    lock: threading.Lock = field(default_factory=threading.Lock)
    cut: set[int] = field(default_factory=set)  # segments whose stale frames were not sent
    sent: int = 0  # frames sent: the ring's slots are used in turn
    session: Session | None = None
    ring: FrameRing | None = None
    credits: asyncio.Semaphore | None = None
    pump: asyncio.Task | None = None
    thread: threading.Thread | None = None


class SessionHost:
    """Everything one session process runs."""

    def __init__(self, channel: MessageChannel) -> None:
        self._channel = channel
        self._sessions: dict[str, _Hosted] = {}
        self._released_threads: list[threading.Thread] = []
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(
            target=self._loop.run_forever, name="frames", daemon=True
        )

    def run(self) -> None:
        self._loop_thread.start()
        try:
            while True:
                try:
                    message = self._channel.receive()
                except (EOFError, OSError, ValueError):
                    break  # the pool closed the channel, or is gone
                self._dispatch(message)
        finally:
            for session_id in list(self._sessions):
                self._dispatch(Release(session_id))
            for thread in self._released_threads:
                thread.join(RELEASE_WAIT_S)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop_thread.join(RELEASE_WAIT_S)

    def _send(self, message: object) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._channel.send(message)

    def _dispatch(self, message: object) -> None:
        if isinstance(message, OpenSession):
            opened = _Hosted(message)
            self._sessions[message.session_id] = opened
            opened.inputs.put((0, message))
            thread = threading.Thread(
                target=self._serve_inputs, args=(opened,), name="input", daemon=True
            )
            opened.thread = thread
            thread.start()
            return
        hosted = self._sessions.get(getattr(message, "session_id", ""))
        if hosted is None:
            return  # released already
        if isinstance(message, SessionInput):
            hosted.inputs.put((hosted.generation, message))
        elif isinstance(message, Interrupt):
            with hosted.lock:
                _drop_queued_speech(hosted)
                self._send(Interrupted(message.session_id))
        elif isinstance(message, Credit):
            if hosted.credits is not None:
                self._loop.call_soon_threadsafe(hosted.credits.release)
        elif isinstance(message, Release):
            del self._sessions[message.session_id]
            self._released_threads = [t for t in self._released_threads if t.is_alive()]
            if hosted.thread is not None:
                self._released_threads.append(hosted.thread)
            _drop_queued_speech(hosted)
            hosted.inputs.put(None)

    # -- one session's input, in order, on its own thread ------------------------------------

    def _serve_inputs(self, hosted: _Hosted) -> None:
        taken: deque = deque()  # inputs read ahead while joining pushes
        try:
            while True:
                item = taken.popleft() if taken else hosted.inputs.get()
                if item is None:
                    break
                item = _joined_pushes(item, hosted.inputs, taken)
                generation, message = item
                if isinstance(message, OpenSession):
                    self._open(hosted)
                elif hosted.session is not None:
                    with hosted.lock:
                        current = generation == hosted.generation
                        interrupts_seen = hosted.session.interrupt_count
                    if current:
                        # An interrupt from now on drops this input too, even mid-analysis.
                        self._apply(hosted, message, interrupts_seen)
        finally:
            self._free(hosted)

    def _open(self, hosted: _Hosted) -> None:
        request = hosted.open
        try:
            session = Session(request.avatar, **request.options)
            ring = FrameRing.create(request.avatar.size_px)
        except Exception as exc:  # reported to the pool, which raises it to the caller
            self._send(Ended(request.session_id, f"{type(exc).__name__}: {exc}"))
            return
        hosted.ring = ring
        hosted.session = session
        self._send(Opened(request.session_id, ring.name))  # before any frame of the session
        asyncio.run_coroutine_threadsafe(self._start_pump(hosted), self._loop).result()

    async def _start_pump(self, hosted: _Hosted) -> None:
        hosted.credits = asyncio.Semaphore(FRAME_SLOTS)
        hosted.pump = asyncio.create_task(self._pump(hosted))

    def _apply(self, hosted: _Hosted, message: SessionInput, interrupts_seen: int) -> None:
        session = hosted.session
        assert session is not None
        try:
            if message.action == "push_audio":
                assert message.pcm is not None
                session.push_audio(
                    message.pcm, message.sample_rate, interrupts_seen=interrupts_seen
                )
            elif message.action == "finalize_frames":
                session.finalize_frames(message.frame_count)
            elif message.action == "end_segment":
                session.end_segment()
            elif message.action == "close":
                session.close()
        except RuntimeError:
            pass  # input after close: the pool refuses it before it gets here

    async def _pump(self, hosted: _Hosted) -> None:
        session, ring, credits = hosted.session, hosted.ring, hosted.credits
        assert session is not None and ring is not None and credits is not None
        session_id = hosted.open.session_id
        try:
            async for item in session.frames():
                if isinstance(item, VideoFrame):
                    await credits.acquire()
                    with hosted.lock:
                        if item.segment is not None and session.was_cut(item.segment):
                            # Made before an interrupt, then held up by a slow consumer.
                            hosted.cut.add(item.segment)
                            credits.release()
                            continue
                        slot = hosted.sent % FRAME_SLOTS
                        hosted.sent += 1
                        ring.frames[slot] = item.image
                        self._send(
                            FrameReady(session_id, slot, item.audio, item.speaking, item.segment)
                        )
                    if (latency := session.remote_latency()) is not None:
                        self._send(EngineLatency(session_id, latency))
                else:
                    with hosted.lock:
                        if item.segment not in hosted.cut:
                            self._send(SegmentDone(session_id, item.segment))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A HeadcastError (a remote engine's server failing) already says what happened.
            reason = str(exc) if isinstance(exc, HeadcastError) else f"{type(exc).__name__}: {exc}"
            self._send(Ended(session_id, reason))
            return
        self._send(Ended(session_id))

    def _free(self, hosted: _Hosted) -> None:
        if hosted.pump is not None:
            pump = hosted.pump
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_cancel(pump), self._loop).result(RELEASE_WAIT_S)
        if hosted.session is not None:
            with contextlib.suppress(Exception):
                hosted.session.close()
        if hosted.ring is not None:
            hosted.ring.close(unlink=True)
            hosted.ring = None
        hosted.session = None
        return_freed_memory()


def _drop_queued_speech(hosted: _Hosted) -> None:
    """Input queued so far is skipped and the session shows idle frames from the next one."""
    hosted.generation += 1
    if hosted.session is not None:
        hosted.session.interrupt()


def _joined_pushes(item: tuple[int, object], inputs: queue.Queue, taken: deque) -> tuple:
    """``item`` with the pushes queued right behind it joined on: one analysis instead of
    many when a process falls behind. An input that cannot join is left in ``taken``."""
    generation, message = item
    if taken or not (isinstance(message, SessionInput) and message.action == "push_audio"):
        return item
    assert message.pcm is not None
    parts: list[np.ndarray] = [message.pcm]
    budget = int(MAX_JOINED_PUSH_S * message.sample_rate) - len(message.pcm)
    while budget > 0:
        try:
            following = inputs.get_nowait()
        except queue.Empty:
            break
        pcm = (
            following[1].pcm
            if following is not None
            and following[0] == generation
            and isinstance(following[1], SessionInput)
            and following[1].action == "push_audio"
            and following[1].sample_rate == message.sample_rate
            else None
        )
        if pcm is None or pcm.dtype != message.pcm.dtype or len(pcm) > budget:
            taken.append(following)
            break
        parts.append(pcm)
        budget -= len(pcm)
    if len(parts) == 1:
        return item
    return generation, replace(message, pcm=np.concatenate(parts))


def return_freed_memory() -> None:
    """Hand the heap a released session freed back to the system.

    glibc keeps freed heap memory for reuse, so a pooled process would otherwise stay as large
    as its busiest session ever made it.
    """
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, "malloc_trim") else None  # glibc only


_LIBC = _load_libc()


async def _cancel(task: asyncio.Task) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


def host_main(channel: MessageChannel) -> None:
    """Entry point of a session process."""
    # Parallelism comes from the processes; OpenCV's own threads would only contend with them.
    cv2.setNumThreads(1)
    SessionHost(channel).run()
