"""The streaming Session: frames paired with their audio, segments, interrupt, idle frames."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from headcast.audio import load_audio
from headcast.face import prepare_avatar
from headcast.session import SegmentFinished, Session, VideoFrame
from tests.conftest import SAMPLES, clip_wav

FPS = 25.0


@pytest.fixture(scope="module")
def avatar(tmp_path_factory):
    return prepare_avatar(
        SAMPLES / "astronaut.png", 256, cache_dir=tmp_path_factory.mktemp("cache")
    )


@pytest.fixture(scope="module")
def speech():
    return load_audio(clip_wav("0880"), sample_rate=24000)


async def _collect(session: Session, limit: int | None = None) -> list:
    items = []
    async for item in session.frames():
        items.append(item)
        if limit is not None and len(items) >= limit:
            break
    return items


def test_batch_session_pairs_every_frame_with_its_audio(avatar, speech, judge):
    session = Session(avatar, fps=FPS, output_rate=16000)
    for chunk in np.array_split(speech.samples, 23):
        session.push_audio(chunk, speech.sample_rate)
    session.close()
    items = asyncio.run(_collect(session))
    frames = [i for i in items if isinstance(i, VideoFrame)]
    assert isinstance(items[-1], SegmentFinished) and items[-1].segment == 1
    assert abs(len(frames) - speech.duration_s * FPS) <= 1
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(f.audio.dtype == np.int16 and len(f.audio) == 640 for f in frames)
    played = np.concatenate([f.audio for f in frames]).astype(np.float32) / 32768
    assert abs(len(played) / 16000 - speech.duration_s) <= 1 / FPS
    # The audio comes back in order: its envelope follows the input's.
    ref = load_audio(clip_wav("0880")).samples
    n = min(len(ref), len(played))
    env = lambda x: np.abs(x[: n // 160 * 160]).reshape(-1, 160).mean(1)  # noqa: E731
    assert np.corrcoef(env(ref), env(played))[0, 1] > 0.9
    apertures = [judge.measure(f.image) for f in frames[::3]]
    assert max(m.aperture for m in apertures if m) > 0.08  # the mouth moves while speaking


def test_interrupt_returns_to_idle_within_a_frame(avatar, speech):
    async def scenario():
        session = Session(avatar, fps=FPS, realtime=True)
        session.push_audio(speech.samples, speech.sample_rate)
        seen = []
        async for item in session.frames():
            seen.append(item)
            if len(seen) == 10:
                session.interrupt()
            if len(seen) == 14:
                session.close()
                break
        return seen

    frames = [i for i in asyncio.run(scenario()) if isinstance(i, VideoFrame)]
    assert all(f.speaking for f in frames[:10])
    assert not any(f.speaking for f in frames[10:])  # the very next frame is idle
    assert not any(f.audio.any() for f in frames[10:])


def test_live_session_shows_idle_frames_between_turns(avatar, speech):
    async def scenario():
        session = Session(avatar, fps=FPS, realtime=True)
        items = []
        async for item in session.frames():
            items.append(item)
            if len(items) == 5:
                session.push_audio(speech.samples[: speech.sample_rate], speech.sample_rate)
                session.end_segment()
            if isinstance(item, SegmentFinished):
                break
        session.close()
        return items

    items = asyncio.run(scenario())
    frames = [i for i in items if isinstance(i, VideoFrame)]
    assert not any(f.speaking for f in frames[:5])
    assert any(f.speaking for f in frames[5:])
    assert all(not f.audio.any() for f in frames[:5])  # idle frames carry silence
    assert [f.index for f in frames] == list(range(len(frames)))


def test_speech_pushed_across_an_interrupt_goes_with_it(avatar, speech):
    """A queued push that an interrupt overtook (the session processes' input queue) is
    dropped; one pushed after it is spoken."""
    short = speech.samples[: speech.sample_rate]
    stale, fresh = Session(avatar, fps=FPS), Session(avatar, fps=FPS)
    for session in (stale, fresh):
        seen = session.interrupt_count
        session.interrupt()
        if session is fresh:
            seen = session.interrupt_count
        session.push_audio(short, speech.sample_rate, interrupts_seen=seen)
        session.close()
    assert asyncio.run(_collect(stale)) == []
    frames = [i for i in asyncio.run(_collect(fresh)) if isinstance(i, VideoFrame)]
    assert len(frames) == 25 and all(f.speaking and f.segment == 1 for f in frames)


def test_idle_frames_at_head_motion_0_keep_the_head_still(avatar):
    """Between turns the head sways at the default intensity and holds still at 0: below the
    eyes (blinks and glances move only those) nothing of the idle frames changes."""

    async def idle_frames(head_motion: float) -> list[VideoFrame]:
        # Half a second of idle frames, at a high rate so that it takes no longer.
        session = Session(avatar, fps=50.0, realtime=True, head_motion=head_motion, seed=2)
        frames = await _collect(session, limit=25)
        session.close()
        return frames

    below_eyes = int(avatar.landmarks[[33, 263], 1].max()) + 0.1 * avatar.size_px
    rows = slice(int(below_eyes), avatar.size_px)

    def change(frames: list[VideoFrame]) -> float:
        assert not any(f.speaking for f in frames)
        first = frames[0].image[rows].astype(np.int16)
        return max(float(np.abs(f.image[rows] - first).max()) for f in frames[1:])

    assert change(asyncio.run(idle_frames(0.0))) == 0.0
    assert change(asyncio.run(idle_frames(1.0))) > 20
