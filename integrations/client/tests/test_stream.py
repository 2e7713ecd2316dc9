"""AvatarStream against a real ``headcast serve`` on loopback: paced frames, idle between
turns, each frame's audio, interrupts, closing, and the errors a client must see clearly."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from headcast_client import (
    AvatarFrame,
    AvatarStream,
    AvatarStreamError,
    LocalServer,
    SegmentFinished,
)
from headcast_client.local_server import free_port
from material import options, speech

FPS = 25
SPF_16K = 16000 // FPS


async def _frames(stream: AvatarStream, count: int) -> list[AvatarFrame]:
    frames: list[AvatarFrame] = []
    async for item in stream:
        if isinstance(item, AvatarFrame):
            frames.append(item)
            if len(frames) == count:
                break
    return frames


async def _turn(stream: AvatarStream, pcm: np.ndarray) -> tuple[list[AvatarFrame], float]:
    """Push one whole turn; the frames up to its SegmentFinished, and that marker's pts."""
    await stream.push_audio(pcm)
    await stream.end_segment()
    frames: list[AvatarFrame] = []
    async for item in stream:
        if isinstance(item, SegmentFinished):
            assert item.segment == 1
            return frames, item.pts_s
        frames.append(item)
    raise AssertionError("the stream ended before the segment finished")


def test_idle_frames_come_at_fps_then_a_turn_with_its_audio(server: LocalServer) -> None:
    turn = speech(seconds=2.0)

    async def scenario() -> tuple[list[AvatarFrame], list[float], list[AvatarFrame], float]:
        async with AvatarStream(options(server)) as stream:
            assert stream.session_id
            assert (stream.fps, stream.width, stream.height) == (FPS, 256, 256)
            assert stream.samples_per_frame == SPF_16K
            idle, arrivals = [], []
            async for item in stream:
                assert isinstance(item, AvatarFrame)
                idle.append(item)
                arrivals.append(time.monotonic())
                if len(idle) == 50:
                    break
            frames, finished_s = await _turn(stream, turn)
        return idle, arrivals, frames, finished_s

    idle, arrivals, frames, finished_s = asyncio.run(scenario())
    assert [f.index for f in idle] == list(range(50))
    assert all(f.pts_s == pytest.approx(f.index / FPS) for f in idle)
    assert not any(f.speaking for f in idle)
    assert all(len(f.pcm) == SPF_16K and not f.pcm.any() for f in idle)
    # Paced in real time by the server, not sent as fast as made: 49 frame times is 1.96 s.
    assert arrivals[-1] - arrivals[0] > 1.4
    assert idle[0].rgb().shape == (256, 256, 3) and idle[0].rgb().dtype == np.uint8

    # The turn: numbered on without a gap, every frame of its speech, each with its share.
    assert [f.index for f in frames] == list(range(50, 50 + len(frames)))
    speaking = [f for f in frames if f.speaking]
    assert {f.segment for f in speaking} == {1}
    assert abs(len(speaking) - 2.0 * FPS) <= 1
    assert all(len(f.pcm) == SPF_16K for f in frames)
    assert finished_s == pytest.approx(speaking[-1].pts_s + 1 / FPS)  # where the turn ends
    heard = np.concatenate([f.pcm for f in speaking])
    assert len(heard) >= len(turn) - SPF_16K
    n = min(len(heard), len(turn))
    # Same rate in and out: the speech comes back as it went in.
    assert np.abs(heard[:n].astype(np.int32) - turn[:n]).max() <= 1
    mouths = np.stack([f.rgb()[160:230, 80:176].astype(np.float32) for f in speaking])
    assert mouths.std(axis=0).mean() > 2.0  # the face moves while it speaks


def test_audio_comes_back_at_the_output_rate(server: LocalServer) -> None:
    turn = speech(seconds=1.2)

    async def scenario() -> list[AvatarFrame]:
        async with AvatarStream(options(server, output_sample_rate_hz=24000)) as stream:
            assert stream.output_sample_rate_hz == 24000 and stream.samples_per_frame == 960
            frames, _ = await _turn(stream, turn)
        return frames

    frames = asyncio.run(scenario())
    assert all(len(f.pcm) == 960 for f in frames)
    heard = np.concatenate([f.pcm for f in frames if f.speaking]).astype(np.float64)
    expected = np.interp(np.arange(len(turn) * 3 // 2) / 24000, np.arange(len(turn)) / 16000, turn)
    n = min(len(heard), len(expected))
    assert n >= len(expected) - 960
    assert np.corrcoef(heard[:n], expected[:n])[0, 1] > 0.98


def test_an_interrupt_stops_the_speech_within_two_frames(server: LocalServer) -> None:
    turn = speech(seconds=5.0)

    async def scenario() -> tuple[int, list[AvatarFrame | SegmentFinished]]:
        async with AvatarStream(options(server)) as stream:
            await stream.push_audio(turn)
            speaking = 0
            async for item in stream:
                if isinstance(item, AvatarFrame) and item.speaking:
                    speaking += 1
                    if speaking == 10:
                        last_before = item.index
                        await stream.interrupt()
                        break
            after: list[AvatarFrame | SegmentFinished] = []
            async for item in stream:
                after.append(item)
                if len(after) == 20:
                    break
        return last_before, after

    last_before, after = asyncio.run(scenario())
    assert not any(isinstance(item, SegmentFinished) for item in after)
    frames = [item for item in after if isinstance(item, AvatarFrame)]
    assert [f.index for f in frames] == list(range(last_before + 1, last_before + 21))
    first_idle = next(i for i, f in enumerate(frames) if not f.speaking)
    assert first_idle <= 1  # at most the frame already being sent still speaks
    assert all(not f.speaking and not f.pcm.any() for f in frames[first_idle:])


def test_close_ends_the_iteration_cleanly(server: LocalServer) -> None:
    async def scenario() -> list[AvatarFrame | SegmentFinished]:
        stream = await AvatarStream(options(server)).open()
        seen: list[AvatarFrame | SegmentFinished] = []

        async def read() -> None:
            async for item in stream:
                seen.append(item)

        reader = asyncio.create_task(read())
        while len(seen) < 3:
            await asyncio.sleep(0.02)
        await stream.close()
        await asyncio.wait_for(reader, 10)  # ends, without an error
        await stream.close()  # idempotent
        with pytest.raises(AvatarStreamError, match="closed"):
            await stream.push_audio(speech(seconds=0.1))
        return seen

    assert len(asyncio.run(scenario())) >= 3


def test_close_is_clean_with_frames_left_unread(server: LocalServer) -> None:
    async def scenario() -> int | None:
        async with AvatarStream(options(server)) as stream:
            await asyncio.sleep(1.5)  # frames queue up unread
        return stream.close_code

    assert asyncio.run(scenario()) == 1000  # the closing handshake completed, none aborted


def test_a_refused_connection_names_the_server() -> None:
    port = free_port()
    options_ = options(LocalServer(["headcast"]), url=f"http://127.0.0.1:{port}")
    with pytest.raises(AvatarStreamError, match=f"127.0.0.1:{port}.*cannot connect"):
        asyncio.run(AvatarStream(options_).open())


def test_a_wrong_key_is_an_auth_failure(server: LocalServer) -> None:
    with pytest.raises(AvatarStreamError) as failure:
        asyncio.run(AvatarStream(options(server, api_key="wrong")).open())
    assert failure.value.code == "unauthorized"
    assert server.url.split("//")[1] in str(failure.value)


def test_a_refused_start_carries_the_servers_code(server: LocalServer) -> None:
    with pytest.raises(AvatarStreamError) as failure:
        asyncio.run(AvatarStream(options(server, portrait=b"no image")).open())
    assert failure.value.code == "bad_input"
    with pytest.raises(AvatarStreamError) as failure:
        asyncio.run(AvatarStream(options(server, size_px=257)).open())
    assert failure.value.code == "bad_request" and "even" in str(failure.value)
