"""HeadcastVideoService in pipecat's own test harness against a real ``headcast serve``:
turns of real speech in, pictures with their audio out."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import soxr
from headcast_client import LocalServer
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    InterruptionFrame,
    MetricsFrame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.metrics.metrics import TTFBMetricsData
from pipecat.pipeline.worker import PipelineParams
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

FPS = 25
SIZE_PX = 256
PIPELINE_RATE_HZ = 24_000  # pipecat's default output rate: the service emits its audio at it
SAMPLES_PER_FRAME = PIPELINE_RATE_HZ // FPS
# LocalServer waits up to 120 s for a server, and a stream up to 30 s to start.
START_TIMEOUT_S = 180.0


def service(server: LocalServer) -> HeadcastVideoService:
    return HeadcastVideoService(
        portrait=PORTRAIT,
        url=server.url,
        api_key=server.api_key,
        settings=HeadcastVideoService.Settings(fps=FPS, size_px=SIZE_PX),
    )


def run(
    avatar: HeadcastVideoService, frames: list[Frame], **kwargs: object
) -> tuple[list[Frame], list[Frame]]:
    down, up = asyncio.run(
        run_test(avatar, frames_to_send=frames, start_timeout=START_TIMEOUT_S, **kwargs)  # type: ignore[arg-type]
    )
    return list(down), list(up)


def test_a_turn_comes_out_as_frames_paired_with_its_speech_resampled(server: LocalServer) -> None:
    pcm = speech(16_000)
    turn_s = len(pcm) / 16_000
    down, up = run(
        service(server),
        [
            SleepFrame(1.0),
            TTSStartedFrame(),
            *tts_frames(pcm, 16_000),
            TTSStoppedFrame(),
            SleepFrame(turn_s + 1.5),
        ],
        pipeline_params=PipelineParams(enable_metrics=True),
    )
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    pictures = images(down)
    assert all(p.size == (SIZE_PX, SIZE_PX) and p.format == "RGB" for p in pictures)
    assert all(len(p.image) == SIZE_PX * SIZE_PX * 3 for p in pictures)

    # Idle frames while nobody speaks, before the turn and after it.
    segments = [segment_of(p) for p in pictures]
    first, last = segments.index(1), len(segments) - 1 - segments[::-1].index(1)
    assert first >= 10 and all(s == -1 for s in segments[:first])
    assert len(segments) - 1 - last >= 10 and all(s == -1 for s in segments[last + 1 :])

    # Every speaking picture is followed by the audio that plays during it, one frame's worth;
    # idle pictures carry none.
    for i, frame in enumerate(down):
        if isinstance(frame, OutputImageRawFrame):
            follower = down[i + 1] if i + 1 < len(down) else None
            if segment_of(frame) == 1:
                assert isinstance(follower, TTSAudioRawFrame)
                assert follower.sample_rate == PIPELINE_RATE_HZ
                assert follower.num_frames == SAMPLES_PER_FRAME
            else:
                assert not isinstance(follower, TTSAudioRawFrame)

    # The audio is the speech, resampled: as many frames as it lasts, the same waveform.
    expected = soxr.resample(pcm, 16_000, PIPELINE_RATE_HZ).astype(np.int16)
    spoken = audio_out(down)
    assert segments.count(1) == math.ceil(len(expected) / SAMPLES_PER_FRAME)
    assert len(spoken) == segments.count(1) * SAMPLES_PER_FRAME
    assert correlation(spoken, expected) > 0.98

    # TTSStarted before the first speaking picture, TTSStopped right after the last one's audio.
    started = next(i for i, f in enumerate(down) if isinstance(f, TTSStartedFrame))
    stopped = next(i for i, f in enumerate(down) if isinstance(f, TTSStoppedFrame))
    speaking_at = [
        i for i, f in enumerate(down) if isinstance(f, OutputImageRawFrame) and segment_of(f) == 1
    ]
    assert started < speaking_at[0]
    assert stopped > speaking_at[-1] + 1

    # Time to the first picture, reported as pipecat services report TTFB.
    ttfb = [
        d.value
        for f in down
        if isinstance(f, MetricsFrame)
        for d in f.data
        if isinstance(d, TTFBMetricsData)
        and d.processor.startswith("HeadcastVideoService")
        and d.value > 0
    ]
    assert len(ttfb) == 1 and ttfb[0] < turn_s


def test_speech_whose_rate_changes_mid_turn_comes_out_whole(server: LocalServer) -> None:
    half = speech(16_000)
    first, second = half[: len(half) // 2], speech(48_000)[len(half) // 2 * 3 :]
    down, up = run(
        service(server),
        [
            TTSStartedFrame(),
            *tts_frames(first, 16_000),
            *tts_frames(second, 48_000),
            TTSStoppedFrame(),
        ],
    )
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    expected = np.concatenate(
        [
            soxr.resample(first, 16_000, PIPELINE_RATE_HZ),
            soxr.resample(second, 48_000, PIPELINE_RATE_HZ),
        ]
    ).astype(np.int16)
    spoken = audio_out(down)
    assert 0 <= len(spoken) - len(expected) < SAMPLES_PER_FRAME + 2  # the last frame's padding
    assert correlation(spoken, expected) > 0.98
    assert isinstance(down[-1], TTSStoppedFrame) or any(
        isinstance(f, TTSStoppedFrame) for f in down
    )


def test_an_interruption_silences_the_face_within_one_frame(server: LocalServer) -> None:
    pcm = speech(24_000)
    after = speech(24_000, (0.0, 1.5))
    down, up = run(
        service(server),
        [
            TTSStartedFrame(),
            *tts_frames(pcm, 24_000),
            SleepFrame(1.5),  # mid-turn: about half of it shown
            InterruptionFrame(),
            SleepFrame(0.5),
            TTSStartedFrame(),
            *tts_frames(after, 24_000),
            TTSStoppedFrame(),
        ],
    )
    assert not [f for f in up if isinstance(f, ErrorFrame)]
    cut = next(i for i, f in enumerate(down) if isinstance(f, InterruptionFrame))
    before, rest = down[:cut], down[cut + 1 :]
    assert len([p for p in images(before) if segment_of(p) == 1]) >= 10

    # The next picture is idle, and nothing more of the interrupted turn comes, picture or sound.
    assert segment_of(images(rest)[0]) == -1
    assert not [p for p in images(rest) if segment_of(p) == 1]
    next_turn = next(i for i, f in enumerate(rest) if isinstance(f, TTSStartedFrame))
    assert not [f for f in rest[:next_turn] if isinstance(f, TTSAudioRawFrame)]
    assert len(audio_out(before)) < len(pcm) * 0.9

    # The next turn speaks again, whole.
    assert [p for p in images(rest) if segment_of(p) == 2]
    assert 0 <= len(audio_out(rest)) - len(after) < SAMPLES_PER_FRAME + 2
