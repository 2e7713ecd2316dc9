"""headcast's live stream as a LiveKit Agents ``VideoGenerator``: the agent's speech goes to a
headcast server, and the avatar's frames come back each with the audio that plays during it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

import numpy as np
from headcast_client import (
    AvatarFrame,
    AvatarStream,
    AvatarStreamError,
    SegmentFinished,
    StreamOptions,
)
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd, VideoGenerator

from headcast_livekit.speech_input import SpeechResampler, audio_frame
from headcast_livekit.unplayed_speech import TurnEnd, UnplayedSpeech

logger = logging.getLogger("headcast_livekit")

# Tunables of the generator.
RECONNECT_INTERVAL_S = 2.0  # between tries to reach a server that went away
RECONNECT_TIMEOUT_S = 10.0  # one try: connect and start the session
POLL_WITHOUT_VIDEO_S = 0.05  # how often speech without video looks for a reconnected server
# Speech goes out at most this often, what arrived meanwhile in one message: a TTS handing
# over 20 ms frames faster than real time would otherwise pass the server's 200 messages a
# second and be cut off; frames arriving in real time still go out as they come.
SEND_INTERVAL_S = 0.02
# Idle frames are skipped while this many pictures wait in the synchronizer's video queue.
MAX_IDLE_BACKLOG_FRAMES = 1
SEND_MAX_SAMPLES = 96_000  # one message's speech at most (4 s at 24 kHz, 188 KiB)

VideoItem = rtc.VideoFrame | rtc.AudioFrame | AudioSegmentEnd


class HeadcastVideoGenerator(VideoGenerator):
    """``await generator.start()`` opens the session (AvatarStreamError if the server cannot be
    reached or refuses it); then ``push_audio`` takes the agent's speech at any rate and
    ``async for`` yields, in real time, an ``rtc.VideoFrame`` (RGB24) for every frame, idle
    ones between turns included, each speaking one followed by the ``rtc.AudioFrame`` that
    plays during it, and ``AudioSegmentEnd`` after the last frame of a turn. ``clear_buffer``
    interrupts: the next frame yielded is idle.

    If the server goes away the error is logged, the speech it had not played yet and all
    speech after it are yielded as audio alone (the agent keeps talking, without video), and
    the generator reconnects every ``reconnect_interval_s``; video resumes between turns."""

    def __init__(
        self,
        options: StreamOptions,
        *,
        reconnect_interval_s: float = RECONNECT_INTERVAL_S,
        before_reconnect: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.options = options
        self.reconnect_interval_s = reconnect_interval_s
        # Run before each try (AvatarSession's local mode restarts its server there); an
        # AvatarStreamError from it counts as a failed try.
        self.before_reconnect = before_reconnect
        self._stream: AvatarStream | None = None
        self._reconnected: AvatarStream | None = None
        self._reconnect_task: asyncio.Task[None] | None = None
        self._closed = False
        self._resampler = SpeechResampler(options.input_sample_rate_hz)
        self._unplayed = UnplayedSpeech(options.input_sample_rate_hz)
        self._turn_open = False  # speech pushed since the last AudioSegmentEnd
        self._drop_speaking = False  # set by clear_buffer until the first idle frame
        # Speech yielded as audio alone while no server is there.
        self._audio_only: deque[rtc.AudioFrame | AudioSegmentEnd] = deque()
        self._audio_only_added = asyncio.Event()
        self._audio_only_turn_open = False
        self._to_output_rate: SpeechResampler | None = None
        self.video_width = self.video_height = options.size_px
        self.video_fps = float(options.fps)
        self.audio_sample_rate = options.output_sample_rate_hz
        self.server_error: AvatarStreamError | None = None  # the last loss, while it lasts
        self._closing_tasks: set[asyncio.Task[None]] = set()
        # Speech for the server not yet sent, and whether the turn's end follows it.
        self._unsent: list[np.ndarray] = []
        self._unsent_turn_end = False
        self._unsent_added = asyncio.Event()
        self._interrupts = 0  # speech taken before an interrupt is not sent after it
        self._sender: asyncio.Task[None] | None = None
        self._av_sync: rtc.AVSynchronizer | None = None

    async def start(self) -> HeadcastVideoGenerator:
        stream = await AvatarStream(self.options).open()
        self._stream = stream
        self._sender = asyncio.create_task(self._send_speech())
        self.video_width, self.video_height = stream.width, stream.height
        self.video_fps = stream.fps
        self.audio_sample_rate = stream.output_sample_rate_hz
        return self

    def set_av_sync(self, av_sync: rtc.AVSynchronizer | None) -> None:
        """The runner's synchronizer (``AvatarRunner.av_sync``): while a picture already waits
        in its video queue, idle frames are skipped, so a backlog never builds up in front of
        the speaking frames and their pictures are not held back behind their audio."""
        self._av_sync = av_sync

    def _video_backlog(self) -> int:
        queue = getattr(self._av_sync, "_video_queue", None)
        return queue.qsize() if isinstance(queue, asyncio.Queue) else 0

    @property
    def connected(self) -> bool:
        return self._stream is not None

    async def push_audio(self, frame: rtc.AudioFrame | AudioSegmentEnd) -> None:
        if self._closed:
            return
        if isinstance(frame, AudioSegmentEnd):
            pcm = self._resampler.flush()
            was_open, self._turn_open = self._turn_open, False
            if not was_open:
                return
            self._send(pcm, end_turn=True)
            return
        pcm = self._resampler.push(frame)
        self._turn_open = True
        self._send(pcm, end_turn=False)

    def _send(self, pcm: np.ndarray, *, end_turn: bool) -> None:
        if self._stream is None or self._audio_only_turn_open:
            self._queue_audio_only(pcm, end_turn=end_turn)
            return
        self._unplayed.add(pcm)
        if len(pcm):
            self._unsent.append(pcm)
        if end_turn:
            self._unplayed.end_turn()
            self._unsent_turn_end = True
        self._unsent_added.set()

    async def _send_speech(self) -> None:
        """Sends what was pushed, coalesced, in order, at most every SEND_INTERVAL_S."""
        while not self._closed:
            await self._unsent_added.wait()
            self._unsent_added.clear()
            stream = self._stream
            if stream is None:
                self._unsent.clear()  # it is in the unplayed speech, replayed as audio
                self._unsent_turn_end = False
                continue
            interrupts = self._interrupts
            pcm = np.concatenate(self._unsent) if self._unsent else np.zeros(0, np.int16)
            turn_end, self._unsent, self._unsent_turn_end = self._unsent_turn_end, [], False
            try:
                for start in range(0, len(pcm), SEND_MAX_SAMPLES):
                    if self._interrupts != interrupts or stream is not self._stream:
                        break
                    await stream.push_audio(pcm[start : start + SEND_MAX_SAMPLES])
                else:
                    if turn_end:
                        await stream.end_segment()
            except AvatarStreamError as exc:
                self._lose(stream, exc)
            await asyncio.sleep(SEND_INTERVAL_S)

    def _queue_audio_only(self, pcm: np.ndarray, *, end_turn: bool) -> None:
        if len(pcm):
            if self._to_output_rate is None:
                self._to_output_rate = SpeechResampler(self.audio_sample_rate)
            rate = self.options.input_sample_rate_hz
            out = self._to_output_rate.push(audio_frame(pcm, rate))
            if len(out):
                self._put_audio_only(audio_frame(out, self.audio_sample_rate))
            self._audio_only_turn_open = True
        if end_turn:
            if self._to_output_rate is not None:
                tail = self._to_output_rate.flush()
                if len(tail):
                    self._put_audio_only(audio_frame(tail, self.audio_sample_rate))
            if self._audio_only_turn_open:
                self._put_audio_only(AudioSegmentEnd())
            self._audio_only_turn_open = False

    def _put_audio_only(self, item: rtc.AudioFrame | AudioSegmentEnd) -> None:
        self._audio_only.append(item)
        self._audio_only_added.set()

    async def clear_buffer(self) -> None:
        self._interrupts += 1
        self._unsent.clear()
        self._unsent_turn_end = False
        self._resampler.reset()
        self._unplayed.clear()
        self._turn_open = False
        self._audio_only.clear()
        self._audio_only_turn_open = False
        self._to_output_rate = None
        stream = self._stream
        if stream is None:
            return
        self._drop_speaking = True
        try:
            await stream.interrupt()
        except AvatarStreamError as exc:
            self._lose(stream, exc)

    def __aiter__(self) -> AsyncIterator[VideoItem]:
        return self._items()

    async def _items(self) -> AsyncIterator[VideoItem]:
        while not self._closed:
            stream = self._stream
            if stream is not None:
                try:
                    async for item in stream:
                        for out in await self._convert(item):
                            yield out
                    if self._closed:
                        return
                    raise AvatarStreamError(stream.server, "the session was closed")
                except AvatarStreamError as exc:
                    self._lose(stream, exc)
            async for out in self._without_video():
                yield out

    async def _convert(self, item: AvatarFrame | SegmentFinished) -> list[VideoItem]:
        if isinstance(item, SegmentFinished):
            self._unplayed.turn_finished()
            return [] if self._drop_speaking else [AudioSegmentEnd()]
        if item.speaking and self._drop_speaking:
            return []  # sent before the interrupt reached the server
        if not item.speaking:
            self._drop_speaking = False
            if self._video_backlog() >= MAX_IDLE_BACKLOG_FRAMES:
                return []
        # Off the loop: a 512 px JPEG takes milliseconds, on the loop that runs the agent.
        rgb = await asyncio.to_thread(item.rgb)
        if item.speaking and self._drop_speaking:
            return []  # interrupted while it was decoded
        video = rtc.VideoFrame(rgb.shape[1], rgb.shape[0], rtc.VideoBufferType.RGB24, rgb.tobytes())
        if not item.speaking:
            # Idle frames carry silence; yielding it would count as heard speech in the
            # runner's playback position.
            return [video]
        self._unplayed.played(len(item.pcm), self.audio_sample_rate)
        return [video, audio_frame(item.pcm, self.audio_sample_rate)]

    def _lose(self, stream: AvatarStream, exc: AvatarStreamError) -> None:
        """The server went away: log it once, replay the speech it had not played as audio
        alone, and start reconnecting."""
        if stream is not self._stream:
            return
        self._stream = None
        self.server_error = exc
        self._drop_speaking = False
        self._unsent.clear()
        self._unsent_turn_end = False
        unplayed = self._unplayed.take_all()
        logger.error(
            "headcast avatar: lost the server (%s); the agent goes on speaking without video "
            "(%.1f s of queued speech replayed as audio), reconnecting every %g s",
            exc,
            sum(len(i) for i in unplayed if not isinstance(i, TurnEnd))
            / self.options.input_sample_rate_hz,
            self.reconnect_interval_s,
        )
        for item in unplayed:
            if isinstance(item, TurnEnd):
                self._queue_audio_only(np.zeros(0, np.int16), end_turn=True)
            else:
                self._queue_audio_only(item, end_turn=False)
        if self._turn_open:
            self._audio_only_turn_open = True
        closing = asyncio.create_task(stream.close())
        self._closing_tasks.add(closing)
        closing.add_done_callback(self._closing_tasks.discard)

    async def _reconnect(self) -> None:
        """Tries the server every ``reconnect_interval_s``; once a session is open, reads and
        drops its idle frames (so none are stale when video resumes) until it is taken."""
        options = dataclasses.replace(
            self.options,
            connect_timeout_s=min(self.options.connect_timeout_s, RECONNECT_TIMEOUT_S),
        )
        failures = 0
        while not self._closed:
            await asyncio.sleep(self.reconnect_interval_s)
            try:
                if self.before_reconnect is not None:
                    await self.before_reconnect()
                stream = await AvatarStream(options).open()
            except AvatarStreamError as exc:
                failures += 1
                # About once a minute at warning level; the loss itself was logged as an error.
                level = logging.WARNING if failures % 30 == 0 else logging.DEBUG
                logger.log(level, "headcast avatar: still no server (%s)", exc)
                continue
            self._reconnected = stream
            self._audio_only_added.set()
            try:
                async for _ in stream:
                    pass
            except AvatarStreamError as exc:
                logger.warning("headcast avatar: the server went away again (%s)", exc)
            self._reconnected = None
            await stream.close()

    async def _without_video(self) -> AsyncIterator[rtc.AudioFrame | AudioSegmentEnd]:
        """Speech as audio alone until a reconnected stream can take over between turns."""
        if self._reconnect_task is None:
            self._reconnect_task = asyncio.create_task(self._reconnect())
        while not self._closed:
            if self._audio_only:
                yield self._audio_only.popleft()
                continue
            if self._reconnected is not None and not self._audio_only_turn_open:
                await self._take_reconnected()
                return
            self._audio_only_added.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._audio_only_added.wait(), POLL_WITHOUT_VIDEO_S)

    async def _take_reconnected(self) -> None:
        stream, self._reconnected = self._reconnected, None
        task, self._reconnect_task = self._reconnect_task, None
        if task is not None:
            task.cancel()  # websockets' recv may be cancelled without losing a message
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._stream = stream
        self._to_output_rate = None
        self.server_error = None
        assert stream is not None
        logger.info("headcast avatar: the server is back at %s; video resumes", stream.server)

    async def aclose(self) -> None:
        """Idempotent: frees the session on the server and ends the iteration."""
        self._closed = True
        stream, self._stream = self._stream, None
        reconnected, self._reconnected = self._reconnected, None
        for task in (self._reconnect_task, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for s in (stream, reconnected):
            if s is not None:
                await s.close()
        if self._closing_tasks:
            await asyncio.gather(*self._closing_tasks, return_exceptions=True)
