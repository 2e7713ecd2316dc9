"""Local mode's own server, and a server lost mid-turn: the agent keeps talking without video."""

from __future__ import annotations

import asyncio
import math
import os
import signal
from collections.abc import Iterator

import numpy as np
import pytest
import soxr
from headcast_client import LocalServer
from pipecat.frames.frames import (
    CancelFrame,
    ErrorFrame,
    Frame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.tests.utils import SleepFrame, run_test

from headcast_pipecat import HeadcastVideoService
from pipeline_material import (
    PORTRAIT,
    audio_out,
    correlation,
    images,
    segment_of,
    speech,
    tts_frames,
)

# LocalServer waits up to 120 s for a server, and a stream up to 30 s to start.
START_TIMEOUT_S = 180.0
RESTART_TIMEOUT_S = 150.0
SETTINGS = HeadcastVideoService.Settings(fps=25, size_px=256)


class SpeakingFrames(BaseObserver):
    """Sets ``seen`` once the service has pushed ``count`` speaking pictures."""

    def __init__(self, service: HeadcastVideoService, count: int) -> None:
        super().__init__()
        self.service, self.count, self.seen = service, count, asyncio.Event()

    async def on_push_frame(self, data: FramePushed) -> None:
        frame = data.frame
        if (
            data.source is self.service
            and isinstance(frame, OutputImageRawFrame)
            and segment_of(frame) > 0
        ):
            self.count -= 1
            if self.count <= 0:
                self.seen.set()


def test_a_server_killed_mid_turn_gives_an_error_and_the_agent_talks_on() -> None:
    pcm = speech(24_000)
    later = speech(24_000, (0.0, 1.0))
    later_frames = tts_frames(later, 24_000)

    async def scenario() -> tuple[list[Frame], list[Frame], LocalServer]:
        server = await LocalServer().start()
        avatar = HeadcastVideoService(
            portrait=PORTRAIT, url=server.url, api_key=server.api_key, settings=SETTINGS
        )
        observer = SpeakingFrames(avatar, 15)

        async def kill_mid_turn() -> None:
            await observer.seen.wait()
            assert server.process is not None
            os.killpg(server.process.pid, signal.SIGKILL)  # the server and its session processes

        killer = asyncio.create_task(kill_mid_turn())
        try:
            down, up = await run_test(
                avatar,
                frames_to_send=[
                    TTSStartedFrame(),
                    *tts_frames(pcm, 24_000),
                    TTSStoppedFrame(),
                    SleepFrame(4.0),
                    TTSStartedFrame(),
                    *later_frames,
                    TTSStoppedFrame(),
                    SleepFrame(0.3),
                ],
                observers=[observer],
                start_timeout=START_TIMEOUT_S,
            )
        finally:
            killer.cancel()
            await server.stop()
        return list(down), list(up), server

    down, up, server = asyncio.run(scenario())

    # A clear, non-fatal error naming the server.
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and not errors[0].fatal
    assert "headcast" in errors[0].error and server.url.split("//")[1] in errors[0].error

    # The turn was cut by the kill: some of it with pictures, the rest as plain speech, all of
    # it heard in order, then its TTSStoppedFrame.
    stopped = [i for i, f in enumerate(down) if isinstance(f, TTSStoppedFrame)]
    assert len(stopped) == 2
    first_turn = down[: stopped[0]]
    assert len([p for p in images(first_turn) if segment_of(p) == 1]) >= 15
    heard = audio_out(first_turn)
    assert abs(len(heard) - len(pcm)) < 24_000 // 25
    assert correlation(heard, pcm) > 0.98

    # The next turn goes through as it came, without video.
    second_turn = down[stopped[0] + 1 : stopped[1]]
    assert [f.audio for f in second_turn if isinstance(f, TTSAudioRawFrame)] == [
        f.audio for f in later_frames
    ]
    assert not images(second_turn)


def test_local_mode_starts_its_server_and_stops_it_at_the_end() -> None:
    pcm = speech(16_000, (7.3, 8.6))
    avatar = HeadcastVideoService(portrait=PORTRAIT, settings=SETTINGS)  # $HEADCAST_COMMAND
    pids: list[int] = []

    async def scenario() -> tuple[list[Frame], list[Frame]]:
        async def note_server() -> None:
            while not (avatar.local_server and avatar.local_server.process):
                await asyncio.sleep(0.05)
            pids.append(avatar.local_server.process.pid)

        watcher = asyncio.create_task(note_server())
        try:
            down, up = await run_test(
                avatar,
                frames_to_send=[TTSStartedFrame(), *tts_frames(pcm, 16_000), TTSStoppedFrame()],
                start_timeout=START_TIMEOUT_S,
            )
        finally:
            watcher.cancel()
        await avatar.cleanup()  # again: idempotent
        return list(down), list(up)

    down, up = asyncio.run(scenario())
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    assert [p for p in images(down) if segment_of(p) == 1]
    expected = soxr.resample(pcm, 16_000, 24_000).astype(np.int16)
    assert correlation(audio_out(down), expected) > 0.98

    # Stopped (and reaped) when the pipeline ended.
    assert avatar.local_server is None and len(pids) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


def test_speech_refused_past_the_backlog_is_heard_and_the_avatar_comes_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    long_turn, short_turn = speech(24_000), speech(24_000, (7.3, 8.1))
    monkeypatch.setenv("HEADCAST_MAX_LIVE_BACKLOG_S", "1.5")

    async def scenario() -> tuple[list[Frame], list[Frame]]:
        async with LocalServer() as server:
            avatar = HeadcastVideoService(
                portrait=PORTRAIT,
                url=server.url,
                api_key=server.api_key,
                settings=SETTINGS,
                reconnect_interval_s=0.5,
            )
            down, up = await run_test(
                avatar,
                frames_to_send=[
                    TTSStartedFrame(),
                    *tts_frames(long_turn, 24_000),  # 3.3 s at once: past the backlog
                    TTSStoppedFrame(),
                    SleepFrame(3.0),
                    TTSStartedFrame(),
                    *tts_frames(short_turn, 24_000),
                    TTSStoppedFrame(),
                ],
                start_timeout=START_TIMEOUT_S,
            )
            return list(down), list(up)

    down, up = asyncio.run(scenario())
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and not errors[0].fatal and "backlog_full" in errors[0].error

    # The refused turn is heard whole, without video; then the avatar is back for the next.
    stopped = [i for i, f in enumerate(down) if isinstance(f, TTSStoppedFrame)]
    assert len(stopped) == 2
    first_turn, second_turn = down[: stopped[0]], down[stopped[0] + 1 : stopped[1]]
    assert correlation(audio_out(first_turn), long_turn) > 0.99
    assert abs(len(audio_out(first_turn)) - len(long_turn)) < 24_000 // 25
    shown = [p for p in images(second_turn) if segment_of(p) > 0]
    assert len(shown) == math.ceil(len(short_turn) / (24_000 // 25))
    assert correlation(audio_out(second_turn), short_turn) > 0.98


def test_a_cancel_stops_the_avatar_and_its_local_server_at_once() -> None:
    pcm = speech(24_000)
    avatar = HeadcastVideoService(portrait=PORTRAIT, settings=SETTINGS)
    pids: list[int] = []

    async def scenario() -> list[Frame]:
        async def note_server() -> None:
            while not (avatar.local_server and avatar.local_server.process):
                await asyncio.sleep(0.05)
            pids.append(avatar.local_server.process.pid)

        watcher = asyncio.create_task(note_server())
        try:
            down, _ = await run_test(
                avatar,
                frames_to_send=[
                    TTSStartedFrame(),
                    *tts_frames(pcm, 24_000),
                    TTSStoppedFrame(),
                    SleepFrame(1.0),  # mid-turn
                    CancelFrame(),
                ],
                send_end_frame=False,
                start_timeout=START_TIMEOUT_S,
            )
        finally:
            watcher.cancel()
        return list(down)

    down = asyncio.run(scenario())
    cancelled = next(i for i, f in enumerate(down) if isinstance(f, CancelFrame))
    assert [p for p in images(down[:cancelled]) if segment_of(p) == 1]
    assert not [
        f for f in down[cancelled:] if isinstance(f, (OutputImageRawFrame, TTSAudioRawFrame))
    ]
    assert not [f for f in down if isinstance(f, TTSStoppedFrame)]  # the turn never finished
    assert avatar.local_server is None and len(pids) == 1
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


def test_local_mode_restarts_a_killed_server_and_the_avatar_comes_back() -> None:
    pcm, later = speech(24_000), speech(24_000, (7.3, 8.1))
    avatar = HeadcastVideoService(portrait=PORTRAIT, settings=SETTINGS, reconnect_interval_s=0.5)
    observer = SpeakingFrames(avatar, 10)
    pids: list[int] = []

    def frames() -> Iterator[Frame]:
        # run_test sleeps between the frames it takes from here, so this waits for the avatar.
        yield TTSStartedFrame()
        yield from tts_frames(pcm, 24_000)
        yield TTSStoppedFrame()
        while avatar.has_video:
            yield SleepFrame(0.1)
        for _ in range(int(RESTART_TIMEOUT_S / 0.1)):
            if avatar.has_video:
                break
            yield SleepFrame(0.1)
        yield TTSStartedFrame()
        yield from tts_frames(later, 24_000)
        yield TTSStoppedFrame()

    async def scenario() -> tuple[list[Frame], list[Frame]]:
        async def kill_mid_turn() -> None:
            await observer.seen.wait()
            server = avatar.local_server
            assert server is not None and server.process is not None
            pids.append(server.process.pid)
            os.killpg(server.process.pid, signal.SIGKILL)

        killer = asyncio.create_task(kill_mid_turn())
        try:
            down, up = await run_test(
                avatar,
                frames_to_send=frames(),  # type: ignore[arg-type]
                observers=[observer],
                start_timeout=START_TIMEOUT_S,
            )
        finally:
            killer.cancel()
        return list(down), list(up)

    down, up = asyncio.run(scenario())
    errors = [f for f in up if isinstance(f, ErrorFrame)]
    assert len(errors) == 1 and not errors[0].fatal
    stopped = [i for i, f in enumerate(down) if isinstance(f, TTSStoppedFrame)]
    assert len(stopped) == 2
    first_turn, second_turn = down[: stopped[0]], down[stopped[0] + 1 : stopped[1]]
    assert correlation(audio_out(first_turn), pcm) > 0.98  # heard whole, partly without video
    shown = [p for p in images(second_turn) if segment_of(p) > 0]
    assert len(shown) == math.ceil(len(later) / (24_000 // 25))  # a new server, the avatar back
    assert correlation(audio_out(second_turn), later) > 0.98
    assert avatar.local_server is None
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)
