"""``HeadcastVideoService``: headcast's talking head in a pipecat pipeline's avatar slot.

TTS audio goes to a ``headcast serve`` over ``/v1/stream``; what comes back is a picture per
frame with the audio that plays during it, and the service emits both (images synchronised
with the audio in the output transport), so picture and sound stay together. Between turns
the server's idle frames keep the face alive. A turn's ``TTSStoppedFrame`` is held until its
last frame is out; an ``InterruptionFrame`` stops the face speaking at once.

If the server cannot be reached or goes away, the service reports it (a non-fatal
``ErrorFrame``), lets the speech through without video (the unheard rest of the turn in flight
included) and tries to reconnect between turns.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np
from headcast_client import (
    AvatarFrame,
    AvatarStream,
    AvatarStreamError,
    LocalServer,
    SegmentFinished,
    StreamOptions,
)
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InterruptionFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.ai_service import AIService
from pipecat.utils.errors import ErrorCategory

from headcast_pipecat.settings import HeadcastVideoSettings, default_settings, output_rate_for
from headcast_pipecat.speech_sender import SpeechSender
from headcast_pipecat.turns import SpeechResampler, Turn

RECONNECT_INTERVAL_S = 5.0
# In each image's metadata: the server's frame index, and the turn it shows (-1: idle).
FRAME_INDEX_KEY = "headcast_frame"
SEGMENT_KEY = "headcast_segment"
# How long stop() waits for queued speech beyond its own duration.
STOP_MARGIN_S = 10.0


class HeadcastVideoService(AIService):
    """A lip-synced talking head from one portrait, rendered by headcast.

    Local mode (no ``url``): ``headcast serve`` is started on a loopback port when the
    pipeline starts, from ``command`` (a path to an installation's ``headcast`` executable, or
    a list like ``["python", "-m", "headcast"]``; default: ``HEADCAST_COMMAND``, else
    ``headcast`` on the PATH), and stopped when it ends. Remote mode: ``url`` (and
    ``api_key``) of a running ``headcast serve``.

    Args:
        portrait: the photo, as a path or its bytes; or ``avatar_id``, an avatar stored on the
            server.
        url: the server's base URL, ``http(s)://HOST:PORT``; None for local mode.
        api_key: the server's key, if it has keys.
        command: local mode's headcast command.
        settings: rendering settings (``HeadcastVideoService.Settings``).
        sync_images_with_audio: True (the default): each picture goes through the output
            transport's audio queue and is shown exactly when its audio starts; pipecat 1.14
            draws such pictures only in a transport without ``video_out_is_live`` (its
            default). False, for a transport with ``video_out_is_live``: pictures are shown
            as they come, and run ahead of their audio by as much as the server fell behind
            and caught up (the transport queues the audio) until the next pause.
        reconnect_interval_s: how often to try a lost server again, between turns.
    """

    Settings = HeadcastVideoSettings
    _settings: HeadcastVideoSettings

    def __init__(
        self,
        *,
        portrait: str | os.PathLike[str] | bytes | None = None,
        avatar_id: str | None = None,
        url: str | None = None,
        api_key: str = "",
        command: str | list[str] | None = None,
        settings: HeadcastVideoSettings | None = None,
        sync_images_with_audio: bool = True,
        reconnect_interval_s: float = RECONNECT_INTERVAL_S,
        **kwargs: object,
    ) -> None:
        if (portrait is None) == (avatar_id is None):
            raise ValueError("give a portrait or an avatar_id")
        store = default_settings()
        if settings is not None:
            store.apply_update(settings)
        super().__init__(settings=store, **kwargs)
        self._portrait = (
            portrait if isinstance(portrait, bytes) or portrait is None else Path(portrait)
        )
        self._avatar_id = avatar_id
        self._url = url
        self._api_key = api_key
        self._command = command
        self._sync_images_with_audio = sync_images_with_audio
        self._reconnect_interval_s = reconnect_interval_s

        self._server: LocalServer | None = None
        self._stream: AvatarStream | None = None
        self._reader: asyncio.Task[None] | None = None
        self._sender: SpeechSender | None = None
        self._sender_task: asyncio.Task[None] | None = None
        self._reconnector: asyncio.Task[None] | None = None
        self._input_rate_hz = 24_000
        self._output_rate_hz = 24_000
        self._resampler = SpeechResampler(self._input_rate_hz)
        self._turns: dict[int, Turn] = {}  # pushed and not finished, by segment
        self._open: Turn | None = None  # the turn taking speech
        self._segments_opened = 0
        self._cut_through = 0  # segments up to this one were interrupted
        self._passing_speech = False  # without video, a turn's speech is going through
        self._stopping = False
        self._start_pushed = asyncio.Event()  # frames go out only after the StartFrame
        self._width = self._height = 0
        self._fps = 25.0  # the open stream's

    @property
    def has_video(self) -> bool:
        """Whether the avatar is connected (else speech passes through without video)."""
        return self._stream is not None

    @property
    def local_server(self) -> LocalServer | None:
        """Local mode's ``headcast serve`` while it runs."""
        return self._server

    def can_generate_metrics(self) -> bool:
        return True

    async def _update_settings(self, delta: HeadcastVideoSettings) -> dict[str, Any]:  # type: ignore[override]
        # A stream's size, rate and look are fixed when it opens; they apply from the next.
        changed = await super()._update_settings(delta)
        self._warn_unhandled_updated_settings(set(changed) - {"model"})
        return changed

    # Lifecycle

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        self._stopping = False
        # The rate the pipeline's TTS speaks at, so its audio seldom needs resampling.
        self._input_rate_hz = self.processor_setup.audio_out_sample_rate
        self._output_rate_hz = output_rate_for(self._settings, self._input_rate_hz)
        self._resampler = SpeechResampler(self._input_rate_hz)
        try:
            await self._connect()
        except (AvatarStreamError, OSError) as error:
            await self._report(f"headcast avatar could not start: {error}", error)
            self._schedule_reconnect()

    async def stop(self, frame: EndFrame) -> None:
        """Queued speech finishes first: the open turn is ended and its frames go out."""
        await super().stop(frame)
        if self._stream is not None and self._open is not None:
            await self._end_open_turn(None)
        queued_s = sum(
            sum(len(s) for s in turn.speech) / turn.input_rate_hz for turn in self._turns.values()
        )
        deadline = asyncio.get_running_loop().time() + queued_s + STOP_MARGIN_S
        while self._turns and self._stream is not None:
            if asyncio.get_running_loop().time() > deadline:
                logger.warning(f"{self}: stopped before the queued speech was shown")
                break
            await asyncio.sleep(0.02)
        self._stopping = True
        await self._teardown()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        self._stopping = True
        await self._teardown()

    async def cleanup(self) -> None:
        await super().cleanup()
        self._stopping = True
        await self._teardown()

    async def _teardown(self) -> None:
        """Idempotent: from stop, cancel and cleanup alike."""
        if self._reconnector is not None:
            await self.cancel_task(self._reconnector)
            self._reconnector = None
        await self._close_stream()
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def _connect(self) -> None:
        url, api_key = self._url, self._api_key
        if url is None:
            server = self._server
            if server is None or server.process is None or server.process.returncode is not None:
                if server is not None:  # a reconnect after the server died
                    await server.stop()
                server = self._server = LocalServer(self._command, api_key=self._api_key)
                await server.start()
            url, api_key = server.url, server.api_key
        stream = AvatarStream(self._stream_options(url, api_key))
        await stream.open()
        self._stream = stream
        self._segments_opened = self._cut_through = 0  # the server numbers them per stream
        self._width, self._height, self._fps = stream.width, stream.height, stream.fps
        self._output_rate_hz = stream.output_sample_rate_hz
        self._reader = self.create_task(self._read_frames(stream), name="headcast_frames")
        self._sender = SpeechSender(stream, self._input_rate_hz, self._lose_stream)
        self._sender_task = self.create_task(self._sender.run(), name="headcast_speech")
        logger.info(
            f"{self}: avatar streaming from {url} ({stream.width}×{stream.height} at {stream.fps:g} fps)"
        )

    def _stream_options(self, url: str, api_key: str) -> StreamOptions:
        s = self._settings
        portrait = self._portrait
        return StreamOptions(
            url=url,
            api_key=api_key,
            portrait=portrait.read_bytes() if isinstance(portrait, Path) else portrait,
            avatar_id=self._avatar_id,
            size_px=int(s.size_px),
            fps=int(s.fps),
            input_sample_rate_hz=self._input_rate_hz,
            output_sample_rate_hz=self._output_rate_hz,
            jpeg_quality=int(s.jpeg_quality),
            head_motion=s.head_motion,
            engine=s.engine,
            seed=int(s.seed),
        )

    async def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        await self._shut(stream)

    async def _shut(self, stream: AvatarStream | None) -> None:
        tasks = (self._reader, self._sender_task)
        self._reader = self._sender_task = self._sender = None
        for task in tasks:
            if task is not None and task is not asyncio.current_task():
                await self.cancel_task(task)
        if stream is not None:
            try:
                await stream.close()
            except AvatarStreamError as error:
                logger.debug(f"{self}: closing a failed stream: {error}")

    # Frames in

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSAudioRawFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._take_speech(frame)
        elif isinstance(frame, TTSStoppedFrame) and direction == FrameDirection.DOWNSTREAM:
            await self._end_open_turn(frame)
        elif isinstance(frame, InterruptionFrame):
            await self._interrupt()
            await self.push_frame(frame, direction)
        else:
            await self.push_frame(frame, direction)
            if isinstance(frame, StartFrame):
                self._start_pushed.set()

    async def _take_speech(self, frame: TTSAudioRawFrame) -> None:
        sender = self._sender
        if sender is None:
            self._passing_speech = True
            await self.push_frame(frame)
            return
        pcm = self._resampler.convert(frame.audio, frame.sample_rate, frame.num_channels)
        if len(pcm) == 0:
            return
        if self._open is None:
            self._segments_opened += 1
            self._open = Turn(self._segments_opened, self._input_rate_hz, frame.context_id)
            self._turns[self._open.segment] = self._open
            await self.start_ttfb_metrics()
        self._open.speech.append(pcm)
        sender.push_audio(pcm)

    async def _end_open_turn(self, stopped: TTSStoppedFrame | None) -> None:
        turn, sender = self._open, self._sender
        if turn is None or sender is None:
            self._passing_speech = False
            if stopped is not None:
                await self.push_frame(stopped)
            return
        self._open = None
        tail = self._resampler.flush()
        # The server makes whole frames only: silence up to the next one keeps the last word.
        per_frame = self._input_rate_hz / self._fps
        if per_frame.is_integer():
            pushed = sum(len(s) for s in turn.speech) + len(tail)
            tail = np.concatenate([tail, np.zeros(-pushed % int(per_frame), np.int16)])
        if stopped is not None:
            turn.held.append(stopped)
        if len(tail):
            turn.speech.append(tail)
            sender.push_audio(tail)
        sender.end_segment()

    async def _interrupt(self) -> None:
        """The face stops speaking at the next frame; the cut turns' frames and held frames
        are dropped, as pipecat drops what an interruption overtakes."""
        self._cut_through = self._segments_opened
        self._open = None
        self._turns.clear()
        self._resampler.reset()
        self._passing_speech = False
        if self._sender is not None:
            await self._sender.interrupt()

    # Frames out

    async def _read_frames(self, stream: AvatarStream) -> None:
        await self._start_pushed.wait()
        try:
            async for item in stream:
                if isinstance(item, SegmentFinished):
                    await self._finish_turn(item.segment)
                else:
                    await self._emit(item)
        except AvatarStreamError as error:
            # Any error, even one the server's session survives (backlog_full: speech refused
            # whole), leaves the turns' numbering uncertain: a fresh stream starts it again.
            if self._stream is stream:
                await self._lose_stream(error)
        else:
            if self._stream is stream and not self._stopping:
                await self._lose_stream(AvatarStreamError(stream.server, "ended the stream"))

    async def _emit(self, frame: AvatarFrame) -> None:
        turn = self._turns.get(frame.segment) if frame.speaking else None
        if frame.speaking and (turn is None or frame.segment <= self._cut_through):
            return  # the rest of an interrupted turn
        # Off the event loop: a 512² JPEG takes milliseconds the transport's audio needs.
        rgb = await asyncio.to_thread(frame.rgb)
        if frame.speaking and frame.segment <= self._cut_through:
            return  # interrupted while it was decoded
        image = OutputImageRawFrame(
            image=rgb.tobytes(), size=(self._width, self._height), format="RGB"
        )
        image.sync_with_audio = self._sync_images_with_audio
        image.metadata[FRAME_INDEX_KEY] = frame.index
        image.metadata[SEGMENT_KEY] = frame.segment
        if turn is not None and not turn.first_frame_out:
            turn.first_frame_out = True
            await self.stop_ttfb_metrics()
        await self.push_frame(image)
        if turn is None or frame.segment <= self._cut_through:
            return  # idle (silent), or interrupted while the picture went out
        turn.returned_samples += len(frame.pcm)
        await self.push_frame(
            TTSAudioRawFrame(
                audio=frame.pcm.astype(np.int16).tobytes(),
                sample_rate=self._output_rate_hz,
                num_channels=1,
                context_id=turn.context_id,
            )
        )

    async def _finish_turn(self, segment: int) -> None:
        turn = self._turns.pop(segment, None)
        if turn is None:
            return
        for held in turn.held:
            await self.push_frame(held)

    # A lost server

    async def _lose_stream(self, error: Exception) -> None:
        """Go on without video: report, let the unheard speech through, reconnect later."""
        stream, self._stream = self._stream, None
        if stream is None:
            return
        self._sender = None  # speech from now on passes through
        # Settled before the first await, so speech arriving meanwhile passes through after
        # the unheard rest of the turns in flight.
        turns = sorted(self._turns.values(), key=lambda t: t.segment)
        self._passing_speech = self._open is not None
        self._turns.clear()
        self._open = None
        self._resampler.reset()
        if not self._stopping:
            for turn in turns:
                unheard = turn.unheard(self._output_rate_hz)
                if len(unheard):
                    await self.push_frame(
                        TTSAudioRawFrame(
                            audio=unheard.tobytes(),
                            sample_rate=turn.input_rate_hz,
                            num_channels=1,
                            context_id=turn.context_id,
                        )
                    )
                for held in turn.held:
                    await self.push_frame(held)
            await self.cancel_ttfb_metrics()
            await self._report(f"headcast avatar lost, going on without video: {error}", error)
        await self._shut(stream)
        if not self._stopping:
            self._schedule_reconnect()

    async def _report(self, message: str, error: Exception) -> None:
        await self.push_error(message, exception=error, category=ErrorCategory.CONNECTIVITY)

    def _schedule_reconnect(self) -> None:
        if self._reconnector is None or self._reconnector.done():
            self._reconnector = self.create_task(self._reconnect(), name="headcast_reconnect")

    async def _reconnect(self) -> None:
        """Tried between turns, so a turn seldom switches from plain speech to video."""
        while self._stream is None and not self._stopping:
            await asyncio.sleep(self._reconnect_interval_s)
            if self._passing_speech:
                continue
            try:
                await self._connect()
            except (AvatarStreamError, OSError) as error:
                logger.warning(f"{self}: headcast avatar still unavailable: {error}")
                continue
            logger.info(f"{self}: headcast avatar back")
        self._reconnector = None
