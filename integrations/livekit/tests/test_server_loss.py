"""A headcast server killed mid-turn: the error is logged, the agent's speech goes on as audio
alone (none of it lost), and video resumes when a server is back at the same address."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal

import pytest
from headcast_client import LocalServer
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd

from headcast_livekit import HeadcastVideoGenerator
from headcast_livekit.avatar_session import restart_if_exited
from material import OUTPUT_RATE_HZ, as_tts_frames, options, resampled, speech
from stream_items import Collected, best_correlation, read_into, speaking_video_frames
from test_video_generator import speak


def test_a_server_killed_mid_turn_leaves_the_speech_whole_and_video_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first_turn = speech(0.0, 4.0)
    caplog.set_level(logging.INFO, logger="headcast_livekit")

    async def run() -> tuple[Collected, list[int], str]:
        server = await LocalServer().start()
        restarted: LocalServer | None = None
        generator = await HeadcastVideoGenerator(options(server), reconnect_interval_s=0.5).start()
        collected = Collected()
        reader = asyncio.create_task(read_into(generator, collected))
        marks = []
        try:
            await collected.until(lambda: collected.count(rtc.VideoFrame) >= 3)
            await speak(generator, as_tts_frames(first_turn, rate_hz=24_000, channels=1))
            await collected.until(lambda: collected.count(rtc.AudioFrame) >= 10)
            assert server.process is not None
            os.killpg(server.process.pid, signal.SIGKILL)  # the server and its session processes
            marks.append(len(collected.items))
            await collected.until(lambda: collected.count(AudioSegmentEnd) >= 1, timeout_s=30)
            marks.append(len(collected.items))
            # The agent's next turn while no server is there.
            await speak(generator, as_tts_frames(speech(4.0, 1.0), rate_hz=24_000, channels=1))
            await collected.until(lambda: collected.count(AudioSegmentEnd) >= 2, timeout_s=30)
            marks.append(len(collected.items))
            restarted = await LocalServer(api_key=server.api_key, port=server.port).start()
            await collected.until(
                lambda: collected.count(rtc.VideoFrame) - _videos_before(collected, marks[2]) >= 10,
            )
            marks.append(len(collected.items))
            await speak(generator, as_tts_frames(speech(5.0, 1.0), rate_hz=24_000, channels=1))
            await collected.until(lambda: collected.count(AudioSegmentEnd) >= 3)
        finally:
            await generator.aclose()
            await reader
            await server.stop()
            if restarted is not None:
                await restarted.stop()
        return collected, marks, server.url

    collected, (killed, first_ended, second_ended, resumed), url = asyncio.run(run())
    items = collected.items

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "lost the server" in errors[0].getMessage()
    assert url.removeprefix("http://") in errors[0].getMessage()
    assert any("video resumes" in r.getMessage() for r in caplog.records)

    # The first turn is heard whole and in order: frames before the kill, audio alone after.
    first = collected.audio(items[:first_ended])
    assert abs(len(first) / OUTPUT_RATE_HZ - 4.0) < 0.05
    assert best_correlation(first, resampled(first_turn, OUTPUT_RATE_HZ), 2400) > 0.99
    assert isinstance(items[first_ended - 1], AudioSegmentEnd)
    # While the server is down: the second turn as audio alone, no pictures.
    second = items[first_ended:second_ended]
    assert not any(isinstance(i, rtc.VideoFrame) for i in second)
    assert abs(len(collected.audio(second)) / OUTPUT_RATE_HZ - 1.0) < 0.05
    assert isinstance(second[-1], AudioSegmentEnd)
    # Back: idle pictures, then a turn of speaking frames with their audio.
    third = items[resumed:]
    end = next(i for i, item in enumerate(third) if isinstance(item, AudioSegmentEnd))
    assert speaking_video_frames(third[:end]) == 25
    assert isinstance(third[end - 1], rtc.AudioFrame)
    assert killed < first_ended


def _videos_before(collected: Collected, index: int) -> int:
    return sum(isinstance(i, rtc.VideoFrame) for i in collected.items[:index])


def test_local_mode_starts_its_killed_server_again_and_video_comes_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="headcast_livekit")

    async def run() -> tuple[Collected, int, str, str]:
        server = await LocalServer().start()
        url = server.url
        generator = await HeadcastVideoGenerator(
            options(server),
            reconnect_interval_s=0.5,
            before_reconnect=functools.partial(restart_if_exited, server),
        ).start()
        collected = Collected()
        reader = asyncio.create_task(read_into(generator, collected))
        try:
            await collected.until(lambda: collected.count(rtc.VideoFrame) >= 3)
            assert server.process is not None
            os.killpg(server.process.pid, signal.SIGKILL)
            await collected.until(lambda: not generator.connected)
            # Back by itself: a turn spoken after that has its pictures again.
            await collected.until(lambda: generator.connected, timeout_s=120)
            resumed = len(collected.items)
            await speak(generator, as_tts_frames(speech(0.0, 1.0), rate_hz=24_000, channels=1))
            await collected.until(lambda: collected.count(AudioSegmentEnd) >= 1)
        finally:
            await generator.aclose()
            await reader
            await server.stop()
        return collected, resumed, url, server.url

    collected, resumed, url_before, url_after = asyncio.run(run())
    assert url_after == url_before
    assert any("starting it again" in r.getMessage() for r in caplog.records)
    after = collected.items[resumed:]
    end = next(i for i, item in enumerate(after) if isinstance(item, AudioSegmentEnd))
    assert speaking_video_frames(after[:end]) == 25
