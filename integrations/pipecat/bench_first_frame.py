"""Time from a turn's first TTS audio frame reaching HeadcastVideoService to the first speaking
picture leaving it, in local mode (the service starts its own ``headcast serve``) and remote
mode (a server started beforehand, reached over loopback), with the TTS ahead of real time
(the whole turn at once) and at real time (20 ms chunks every 20 ms).

    integrations/pipecat/.venv/bin/python integrations/pipecat/bench_first_frame.py [--turns 5]

Prints one line per case (median and worst over the turns) and, with ``--json``, the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from headcast_client import LocalServer
from pipecat.frames.frames import (
    Frame,
    OutputImageRawFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.tests.utils import SleepFrame, run_test

from headcast_pipecat import HeadcastVideoService
from headcast_pipecat.video_service import SEGMENT_KEY

REPO = Path(__file__).resolve().parents[2]
PORTRAIT = REPO / "samples" / "astronaut.png"
SPEECH = REPO / "tests" / "media" / "librivox-0880.wav"
RATE_HZ = 24_000
CHUNK_S = 0.02
TURN_S = 1.2  # of speech a turn
GAP_S = 1.0  # idle between turns


@dataclass(frozen=True)
class Case:
    mode: str  # local | remote
    feed: str  # ahead | real time
    size_px: int
    first_frame_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.first_frame_ms)


class FirstFrames(BaseObserver):
    """Per turn: when its first audio reached the service, when its first picture left."""

    def __init__(self, service: HeadcastVideoService) -> None:
        super().__init__()
        self.service = service
        self.audio_in: list[float] = []
        self.picture_out: dict[int, float] = {}
        self._in_turn = False

    async def on_push_frame(self, data: FramePushed) -> None:
        now, frame = time.perf_counter(), data.frame
        if data.destination is self.service:
            if isinstance(frame, TTSAudioRawFrame) and not self._in_turn:
                self._in_turn = True
                self.audio_in.append(now)
            elif isinstance(frame, TTSStoppedFrame):
                self._in_turn = False
        elif data.source is self.service and isinstance(frame, OutputImageRawFrame):
            segment = int(frame.metadata[SEGMENT_KEY])
            if segment > 0:
                self.picture_out.setdefault(segment, now)


def speech() -> np.ndarray:
    with av.open(str(SPEECH)) as container:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE_HZ)
        pcm = np.concatenate(
            [
                o.to_ndarray().reshape(-1)
                for f in container.decode(audio=0)
                for o in resampler.resample(f)
            ]
        )
    return pcm[: int(TURN_S * RATE_HZ)].astype(np.int16)


def turn_frames(pcm: np.ndarray, real_time: bool) -> list[Frame]:
    step = int(RATE_HZ * CHUNK_S)
    frames: list[Frame] = [TTSStartedFrame()]
    for i in range(0, len(pcm), step):
        frames.append(
            TTSAudioRawFrame(audio=pcm[i : i + step].tobytes(), sample_rate=RATE_HZ, num_channels=1)
        )
        if real_time:
            frames.append(SleepFrame(CHUNK_S))
    return [*frames, TTSStoppedFrame(), SleepFrame(GAP_S + (0 if real_time else TURN_S))]


async def measure(service: HeadcastVideoService, turns: int, real_time: bool) -> list[float]:
    observer = FirstFrames(service)
    pcm = speech()
    frames: list[Frame] = [SleepFrame(GAP_S)]
    for _ in range(turns):
        frames += turn_frames(pcm, real_time)
    await run_test(service, frames_to_send=frames, observers=[observer], start_timeout=180.0)
    return [
        (observer.picture_out[n + 1] - t) * 1000
        for n, t in enumerate(observer.audio_in)
        if n + 1 in observer.picture_out
    ]


async def bench(turns: int, size_px: int) -> list[Case]:
    settings = HeadcastVideoService.Settings(size_px=size_px, fps=25)
    cases = []
    for real_time in (False, True):
        feed = "real time" if real_time else "ahead"
        local = HeadcastVideoService(portrait=PORTRAIT, settings=settings)
        cases.append(Case("local", feed, size_px, await measure(local, turns, real_time)))
        async with LocalServer() as server:
            remote = HeadcastVideoService(
                portrait=PORTRAIT, url=server.url, api_key=server.api_key, settings=settings
            )
            cases.append(Case("remote", feed, size_px, await measure(remote, turns, real_time)))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    os.environ.setdefault("HEADCAST_COMMAND", str(REPO / ".venv" / "bin" / "headcast"))
    cases = asyncio.run(bench(args.turns, args.size))
    print(f"# {platform.node()}: {os.cpu_count()} CPUs, {args.size}² at 25 fps, {args.turns} turns")
    print("mode    feed       first speaking picture after first audio: median / worst (ms)")
    for case in cases:
        print(
            f"{case.mode:<7} {case.feed:<10} {case.median_ms:7.0f} / {max(case.first_frame_ms):.0f}"
        )
    if args.json:
        print(json.dumps([{**asdict(c), "median_ms": c.median_ms} for c in cases], indent=2))


if __name__ == "__main__":
    main()
