"""A live session as WebRTC media: its frames as a video track and an audio track in sync,
and a browser's microphone track as the session's speech.

One pump iterates over the session's frames (the session paces them in real time) and hands
each frame's picture to the video track and the audio that plays during it to the audio
track, so both tracks carry the same timeline: video pts = frame index / fps, audio pts =
samples played. The queues between them are short, so an interrupt reaches the browser
within a frame or two.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from headcast.live.protocol import LiveSession
from headcast.server.sessions.speech import LiveSpeech
from headcast.server.sessions.voice_turns import TurnDetector
from headcast.session import VideoFrame

log = logging.getLogger(__name__)
T = TypeVar("T")

VIDEO_CLOCK_HZ = 90_000  # RTP clock of every video codec
AUDIO_PACKET_S = 0.02  # one Opus packet per audio frame handed to aiortc
# Frames waiting for a slow encoder: older pictures are dropped, audio is never dropped
# until this much is waiting (it would only add delay).
VIDEO_QUEUE_FRAMES = 3
AUDIO_QUEUE_S = 0.4


class SessionFeed:
    """Pumps one session's frames into a video track and an audio track."""

    def __init__(self, session: LiveSession) -> None:
        self.session = session
        self.video = SessionVideoTrack(self)
        self.audio = SessionAudioTrack(self)
        # Called once when the session's frames end (the session was closed).
        self.on_end: Callable[[], None] | None = None
        self._video_queue: deque[VideoFrame | None] = deque()
        self._audio_queue: deque[np.ndarray | None] = deque()
        self._video_ready = asyncio.Event()
        self._audio_ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ended = False

    def start(self) -> None:
        """Start pumping: on the first request for media, so no frame waits for the connection."""
        if self._task is None and not self._ended:
            self._task = asyncio.create_task(self._pump(), name="headcast-webrtc-feed")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._finish()

    async def _pump(self) -> None:
        audio_limit = max(1, round(AUDIO_QUEUE_S * self.session.fps))
        try:
            async for item in self.session.frames():
                if not isinstance(item, VideoFrame):
                    continue
                self._video_queue.append(item)
                while len(self._video_queue) > VIDEO_QUEUE_FRAMES:
                    self._video_queue.popleft()
                self._audio_queue.append(item.audio)
                while len(self._audio_queue) > audio_limit:
                    self._audio_queue.popleft()
                self._video_ready.set()
                self._audio_ready.set()
        except Exception:
            log.exception("live session feed failed")
        self._finish()

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._video_queue.append(None)
        self._audio_queue.append(None)
        self._video_ready.set()
        self._audio_ready.set()
        if self.on_end is not None:
            self.on_end()

    async def next_video(self) -> VideoFrame:
        self.start()
        return await _take(self._video_queue, self._video_ready)

    async def next_audio(self) -> np.ndarray:
        self.start()
        return await _take(self._audio_queue, self._audio_ready)


async def _take(queue: deque[T | None], ready: asyncio.Event) -> T:
    while not queue:
        ready.clear()
        await ready.wait()
    item = queue[0]
    if item is None:  # the end marker stays, for every later call
        raise MediaStreamError
    queue.popleft()
    return item


class SessionVideoTrack(MediaStreamTrack):
    """The session's pictures; pts from the frame index."""

    kind = "video"

    def __init__(self, feed: SessionFeed) -> None:
        super().__init__()
        self._feed = feed
        self._time_base = fractions.Fraction(1, VIDEO_CLOCK_HZ)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        frame = await self._feed.next_video()
        picture = av.VideoFrame.from_ndarray(frame.image, format="rgb24")
        picture.pts = round(frame.pts_s * VIDEO_CLOCK_HZ)
        picture.time_base = self._time_base
        return picture


class SessionAudioTrack(MediaStreamTrack):
    """The audio that plays during the session's frames, in 20 ms s16 mono frames."""

    kind = "audio"

    def __init__(self, feed: SessionFeed) -> None:
        super().__init__()
        self._feed = feed
        self._rate = feed.session.output_rate
        self._packet = round(AUDIO_PACKET_S * self._rate)
        self._time_base = fractions.Fraction(1, self._rate)
        self._pending = np.zeros(0, np.int16)
        self._samples_sent = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        while len(self._pending) < self._packet:
            self._pending = np.concatenate([self._pending, await self._feed.next_audio()])
        samples, self._pending = self._pending[: self._packet], self._pending[self._packet :]
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = self._rate
        frame.pts = self._samples_sent
        frame.time_base = self._time_base
        self._samples_sent += len(samples)
        return frame


class MicrophoneInput:
    """A browser's microphone track → the session's speech, one segment per utterance."""

    def __init__(self, track: MediaStreamTrack, speech: LiveSpeech) -> None:
        self.track = track
        self.speech = speech
        self.turns = TurnDetector()

    async def run(self) -> None:
        """Listen until the track ends."""
        generation = self.speech.generation
        while True:
            ended = False
            try:
                # A sender that stops sending (microphone turned off) ends the turn too.
                timeout_s = self.turns.pause_ms / 1000 if self.turns.speaking else None
                frame = await asyncio.wait_for(self.track.recv(), timeout_s)
                assert isinstance(frame, av.AudioFrame)  # an audio track's media
                pieces = self.turns.feed(*_mono_int16(frame))
            except TimeoutError:
                pieces = self.turns.sender_stopped()
            except MediaStreamError:
                pieces, ended = self.turns.finish(), True
            for piece in pieces:
                if piece.starts:  # an interrupt drops the rest of the turn it happens in
                    generation = self.speech.generation
                await self.speech.push(
                    piece.samples, piece.sample_rate, end=piece.ends, generation=generation
                )
            if ended:
                return


def _mono_int16(frame: av.AudioFrame) -> tuple[np.ndarray, int]:
    """A received audio frame as mono int16 samples and its rate."""
    if frame.format.name != "s16":
        frame = av.AudioResampler(format="s16", layout="mono", rate=frame.sample_rate).resample(
            frame
        )[0]
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data.astype(np.int32).mean(axis=0)
    else:
        mono = data.reshape(-1, channels).astype(np.int32).mean(axis=1)
    return mono.astype(np.int16), frame.sample_rate
