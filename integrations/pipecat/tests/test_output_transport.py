"""The avatar's pictures and audio through a pipecat output transport whose device plays each
audio chunk for its duration: every speaking picture is drawn, by default as its own audio
starts, and with live video too."""

from __future__ import annotations

import asyncio
import math
import statistics

from headcast_client import LocalServer
from pipecat.frames.frames import (
    OutputAudioRawFrame,
    OutputImageRawFrame,
    StartFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from headcast_pipecat import HeadcastVideoService
from headcast_pipecat.video_service import FRAME_INDEX_KEY, SEGMENT_KEY
from pipeline_material import PORTRAIT, speech, tts_frames

FPS = 25
RATE_HZ = 24_000
SAMPLES_PER_FRAME = RATE_HZ // FPS
SIZE_PX = 256


class PlayingOutput(BaseOutputTransport):
    """Writes take as long as their audio plays; notes the audio played before each picture."""

    def __init__(self, params: TransportParams) -> None:
        super().__init__(params)
        self.samples_played = 0
        self.drawn: dict[int, tuple[int, int]] = {}  # frame index: (segment, audio played)

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        await asyncio.sleep(frame.num_frames / frame.sample_rate)
        self.samples_played += frame.num_frames
        return True

    async def write_video_frame(self, frame: OutputImageRawFrame) -> bool:
        index = int(frame.metadata[FRAME_INDEX_KEY])
        self.drawn.setdefault(index, (int(frame.metadata[SEGMENT_KEY]), self.samples_played))
        return True


def run_turn(server: LocalServer, live: bool) -> tuple[PlayingOutput, int]:
    """One turn of speech through the avatar into the transport; the turn's sample count."""
    pcm = speech(RATE_HZ, (7.3, 8.6))
    avatar = HeadcastVideoService(
        portrait=PORTRAIT,
        url=server.url,
        api_key=server.api_key,
        settings=HeadcastVideoService.Settings(fps=FPS, size_px=SIZE_PX),
        sync_images_with_audio=not live,
    )
    output = PlayingOutput(
        TransportParams(
            audio_out_enabled=True,
            audio_out_sample_rate=RATE_HZ,
            audio_out_end_silence_secs=0,
            video_out_enabled=True,
            video_out_is_live=live,
            video_out_width=SIZE_PX,
            video_out_height=SIZE_PX,
            # Live video draws every picture; otherwise the transport shows the latest one
            # on its own clock, here twice the avatar's rate so that it misses none.
            video_out_framerate=FPS if live else 2 * FPS,
        )
    )
    asyncio.run(
        run_test(
            Pipeline([avatar, output]),
            frames_to_send=[
                SleepFrame(0.5),
                TTSStartedFrame(),
                *tts_frames(pcm, RATE_HZ),
                TTSStoppedFrame(),
                SleepFrame(len(pcm) / RATE_HZ + 1.0),
            ],
            start_timeout=180.0,
        )
    )
    return output, len(pcm)


def test_each_speaking_picture_is_drawn_as_its_audio_starts(server: LocalServer) -> None:
    output, samples = run_turn(server, live=False)
    frames = sorted(
        (index, played) for index, (segment, played) in output.drawn.items() if segment == 1
    )
    # The transport shows the latest picture on its clock: a late tick may skip one.
    assert len(frames) >= math.ceil(samples / SAMPLES_PER_FRAME) - 2
    assert output.samples_played >= samples
    first = frames[0][0] - frames[0][1] // SAMPLES_PER_FRAME  # the turn's first frame index
    speaking = {index - first: played for index, played in frames}
    # The k-th speaking picture comes up once the k frames of audio before it have played
    # (no audio plays before the turn), never earlier, and typically within the transport's
    # video tick (a loaded machine may delay a tick by a frame).
    late = [played - k * SAMPLES_PER_FRAME for k, played in speaking.items()]
    assert all(0 <= samples <= 2 * SAMPLES_PER_FRAME for samples in late), late
    assert statistics.median(late) <= SAMPLES_PER_FRAME // 2, late


def test_live_video_draws_every_speaking_picture(server: LocalServer) -> None:
    output, samples = run_turn(server, live=True)
    speaking = [played for _, (segment, played) in sorted(output.drawn.items()) if segment == 1]
    assert len(speaking) == math.ceil(samples / SAMPLES_PER_FRAME)
    assert output.samples_played >= samples
