"""HeadcastVideoGenerator against a real ``headcast serve``, driven as LiveKit's AvatarRunner
drives it: audio frames in as a TTS emits them, its iteration read by another task."""

from __future__ import annotations

import asyncio

from headcast_client import LocalServer
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd

from headcast_livekit import HeadcastVideoGenerator
from material import OUTPUT_RATE_HZ, as_tts_frames, options, resampled, speech
from stream_items import Collected, best_correlation, read_into, speaking_video_frames

FPS = 25
SAMPLES_PER_FRAME = OUTPUT_RATE_HZ // FPS


async def speak(generator: HeadcastVideoGenerator, frames: list[rtc.AudioFrame]) -> None:
    for frame in frames:
        await generator.push_audio(frame)
    await generator.push_audio(AudioSegmentEnd())


def test_speaking_frames_come_with_their_audio_and_the_turn_ends_after_its_last(
    server: LocalServer,
) -> None:
    pcm = speech(0.0, 3.0)

    async def run() -> Collected:
        generator = await HeadcastVideoGenerator(options(server)).start()
        collected = Collected()
        reader = asyncio.create_task(read_into(generator, collected))
        try:
            await collected.until(lambda: collected.count(rtc.VideoFrame) >= 5)
            # 48 kHz stereo in 20 ms frames, faster than real time: a TTS running ahead.
            await speak(generator, as_tts_frames(pcm, rate_hz=48_000, channels=2))
            await collected.until(lambda: collected.count(AudioSegmentEnd) >= 1)
            after = len(collected.items)
            await collected.until(lambda: len(collected.items) >= after + 5)
        finally:
            await generator.aclose()
            await reader
        return collected

    collected = asyncio.run(run())
    items = collected.items
    first_audio = next(i for i, item in enumerate(items) if isinstance(item, rtc.AudioFrame))
    end = next(i for i, item in enumerate(items) if isinstance(item, AudioSegmentEnd))

    # Idle frames before the turn: pictures alone.
    assert first_audio >= 5
    assert all(isinstance(item, rtc.VideoFrame) for item in items[:first_audio])
    for item in items:
        if isinstance(item, rtc.VideoFrame):
            assert (item.width, item.height, item.type) == (256, 256, rtc.VideoBufferType.RGB24)
    # Each speaking frame: its picture, then the frame's worth of audio that plays during it.
    for i, item in enumerate(items):
        if isinstance(item, rtc.AudioFrame):
            assert isinstance(items[i - 1], rtc.VideoFrame)
            assert (item.sample_rate, item.num_channels) == (OUTPUT_RATE_HZ, 1)
            assert item.samples_per_channel == SAMPLES_PER_FRAME
    # The turn's end comes right after its last frame's audio; only idle frames follow.
    assert collected.count(AudioSegmentEnd) == 1
    assert isinstance(items[end - 1], rtc.AudioFrame)
    assert all(isinstance(item, rtc.VideoFrame) for item in items[end + 1 :])
    assert len(items) - end - 1 >= 5
    # The audio that came back is the speech pushed, whole and in order: 3.0 s is 75 frames.
    audio = collected.audio()
    assert speaking_video_frames(items) == 75
    assert len(audio) == 75 * SAMPLES_PER_FRAME
    assert best_correlation(audio, resampled(pcm, OUTPUT_RATE_HZ), OUTPUT_RATE_HZ // 5) > 0.99


def test_clear_buffer_stops_the_speech_within_one_frame(server: LocalServer) -> None:
    first_turn = speech(0.0, 4.0)
    second_turn = speech(4.0, 1.0)

    async def run() -> tuple[Collected, int, int]:
        generator = await HeadcastVideoGenerator(options(server)).start()
        collected = Collected()
        reader = asyncio.create_task(read_into(generator, collected))
        try:
            await collected.until(lambda: collected.count(rtc.VideoFrame) >= 3)
            await speak(generator, as_tts_frames(first_turn, rate_hz=24_000, channels=1))
            await collected.until(lambda: collected.count(rtc.AudioFrame) >= 10)
            await generator.clear_buffer()
            cleared_at = len(collected.items)
            pictures = collected.count(rtc.VideoFrame)
            await collected.until(lambda: collected.count(rtc.VideoFrame) >= pictures + 25)
            second_at = len(collected.items)
            await speak(generator, as_tts_frames(second_turn, rate_hz=24_000, channels=1))
            await collected.until(lambda: collected.count(AudioSegmentEnd) >= 1)
        finally:
            await generator.aclose()
            await reader
        return collected, cleared_at, second_at

    collected, cleared_at, second_at = asyncio.run(run())
    after_clear = collected.items[cleared_at:second_at]
    # At most the frame already on its way still speaks; then idle pictures, no more audio of
    # the interrupted turn and no AudioSegmentEnd for it.
    assert len([i for i in after_clear if isinstance(i, rtc.AudioFrame)]) <= 1
    assert sum(isinstance(i, rtc.VideoFrame) for i in after_clear) >= 20
    assert not any(isinstance(i, AudioSegmentEnd) for i in after_clear)
    heard = len(collected.audio(collected.items[:second_at])) / OUTPUT_RATE_HZ
    assert heard < 2.0  # of 4 s pushed
    # The next turn plays whole and ends.
    second = collected.items[second_at:]
    end = next(i for i, item in enumerate(second) if isinstance(item, AudioSegmentEnd))
    assert len(collected.audio(second[:end])) == 25 * SAMPLES_PER_FRAME
    assert isinstance(second[end - 1], rtc.AudioFrame)
