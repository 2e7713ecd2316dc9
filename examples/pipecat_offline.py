"""A talking-head video from a portrait and a recording, made by a real pipecat pipeline:

    speech as a TTS emits it (TTSAudioRawFrames) → HeadcastVideoService → the pictures and
    their audio, collected → an MP4 (H.264 + AAC)

No network and no agent: the avatar's ``headcast serve`` is started beside it (local mode),
from ``--headcast``, ``$HEADCAST_COMMAND`` or this repository's ``.venv``. Run with the pipecat
integration's environment (``make integrations``):

    integrations/pipecat/.venv/bin/python examples/pipecat_offline.py \\
        samples/astronaut.png samples/speech.wav -o out/pipecat.mp4
"""

from __future__ import annotations

import argparse
import asyncio
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from headcast_pipecat import HeadcastVideoService
from pipecat.frames.frames import (
    EndFrame,
    Frame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.workers.runner import WorkerRunner

REPO = Path(__file__).resolve().parents[1]
CHUNK_S = 0.02  # TTS services hand over audio in chunks of this order
PIPELINE_RATE_HZ = 24_000


class FrameCollector(FrameProcessor):
    """Keeps each picture with the audio that follows it (silence for an idle picture)."""

    def __init__(self) -> None:
        super().__init__()
        self.pictures: list[OutputImageRawFrame] = []
        self.audio: list[list[np.ndarray]] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, OutputImageRawFrame):
            self.pictures.append(frame)
            self.audio.append([])
        elif isinstance(frame, TTSAudioRawFrame) and self.pictures:
            self.audio[-1].append(np.frombuffer(frame.audio, np.int16))
        await self.push_frame(frame, direction)


def read_speech(path: Path) -> tuple[np.ndarray, int]:
    """int16 mono and its rate, as decoded."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=stream.rate)
        chunks = [
            out.to_ndarray().reshape(-1)
            for frame in container.decode(stream)
            for out in resampler.resample(frame)
        ]
        return np.concatenate(chunks).astype(np.int16), stream.rate


def tts_frames(pcm: np.ndarray, rate_hz: int) -> list[Frame]:
    step = int(rate_hz * CHUNK_S)
    chunks: list[Frame] = [
        TTSAudioRawFrame(audio=pcm[i : i + step].tobytes(), sample_rate=rate_hz, num_channels=1)
        for i in range(0, len(pcm), step)
    ]
    return [TTSStartedFrame(), *chunks, TTSStoppedFrame()]


async def render(
    portrait: Path, speech: Path, fps: int, size_px: int, command: str
) -> FrameCollector:
    avatar = HeadcastVideoService(
        portrait=portrait,
        command=command,
        settings=HeadcastVideoService.Settings(fps=fps, size_px=size_px),
    )
    collector = FrameCollector()
    worker = PipelineWorker(
        Pipeline([avatar, collector]),
        params=PipelineParams(audio_out_sample_rate=PIPELINE_RATE_HZ),
        cancel_on_idle_timeout=False,
    )
    pcm, rate_hz = read_speech(speech)
    # EndFrame after the turn: the service stops once the turn's frames are all out.
    await worker.queue_frames([*tts_frames(pcm, rate_hz), EndFrame()])
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    await runner.run()
    return collector


def write_video(collector: FrameCollector, out: Path, fps: int) -> None:
    if not collector.pictures:
        raise SystemExit("no frames came back from the avatar")
    rate_hz = PIPELINE_RATE_HZ
    per_frame = rate_hz // fps
    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as container:
        width, height = collector.pictures[0].size
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        audio = container.add_stream("aac", rate=rate_hz, layout="mono")
        for index, picture in enumerate(collector.pictures):
            rgb = np.frombuffer(picture.image, np.uint8).reshape(height, width, 3)
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            container.mux(video.encode(frame))
        pcm = np.concatenate(
            [np.concatenate(a) if a else np.zeros(per_frame, np.int16) for a in collector.audio]
        )
        for start in range(0, len(pcm), 1024):
            chunk = pcm[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate_hz, start
            frame.time_base = Fraction(1, rate_hz)
            container.mux(audio.encode(frame))
        container.mux(video.encode())
        container.mux(audio.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("portrait", type=Path)
    parser.add_argument("speech", type=Path, help="a recording (wav, mp3, …)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="the MP4 to write")
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", type=int, default=512, help="width and height in pixels")
    parser.add_argument(
        "--headcast",
        default=os.environ.get("HEADCAST_COMMAND") or str(REPO / ".venv" / "bin" / "headcast"),
        help="the headcast command that serves the avatar",
    )
    args = parser.parse_args()
    collector = asyncio.run(render(args.portrait, args.speech, args.fps, args.size, args.headcast))
    write_video(collector, args.out, args.fps)
    speaking = sum(1 for a in collector.audio if a)
    print(f"{args.out}: {len(collector.pictures)} frames ({speaking} speaking) at {args.fps} fps")


if __name__ == "__main__":
    main()
