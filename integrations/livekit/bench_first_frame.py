"""Time from a turn's first audio frame pushed into HeadcastVideoGenerator (as AvatarRunner
pushes the agent's TTS) to the first speaking picture it yields, in local mode (the avatar's
own ``headcast serve``) and remote mode (a server started apart, reached by URL and key), with
the TTS ahead of real time and at real time; and the CPU each side spends per second of
stream.

    integrations/livekit/.venv/bin/python integrations/livekit/bench_first_frame.py [--turns 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from headcast_client import LocalServer, StreamOptions
from headcast_client.local_server import free_port
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd

from headcast_livekit import HeadcastVideoGenerator

REPO = Path(__file__).resolve().parents[2]
HEADCAST = os.environ.get("HEADCAST_COMMAND") or str(REPO / ".venv" / "bin" / "headcast")
PORTRAIT = REPO / "samples" / "astronaut.png"
SPEECH = REPO / "samples" / "speech.wav"
RATE_HZ = 24_000
TTS_FRAME_S = 0.02
TURN_S = 1.2
GAP_S = 0.6  # idle between a turn's end and the next


@dataclass(frozen=True)
class Result:
    mode: str
    pacing: str
    first_frame_ms: list[float]
    stream_s: float
    agent_cpu_s: float
    server_cpu_s: float


def speech_turns(turns: int) -> list[np.ndarray]:
    """``turns`` stretches of TURN_S of samples/speech.wav at 24 kHz."""
    with wave.open(str(SPEECH)) as wav:
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
        rate = wav.getframerate()
    times = np.arange(round(len(pcm) * RATE_HZ / rate)) / RATE_HZ
    up = np.interp(times, np.arange(len(pcm)) / rate, pcm).astype(np.int16)
    step = round(TURN_S * RATE_HZ)
    return [up[i * step : (i + 1) * step] for i in range(turns)]


def tree_cpu_s(pid: int) -> float:
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


async def run_turns(
    options: StreamOptions, turns: list[np.ndarray], real_time: bool
) -> tuple[list[float], float, float]:
    """First-frame times of each turn (ms), and the stream's seconds and this process's CPU."""
    generator = await HeadcastVideoGenerator(options).start()
    first_pushed: float | None = None
    first_frames: list[float] = []
    turn_ended = asyncio.Event()
    last_video_at = 0.0

    async def read() -> None:
        nonlocal first_pushed, last_video_at
        async for item in generator:
            if isinstance(item, rtc.VideoFrame):
                last_video_at = time.perf_counter()
            elif isinstance(item, rtc.AudioFrame) and first_pushed is not None:
                first_frames.append((last_video_at - first_pushed) * 1000)
                first_pushed = None
            elif isinstance(item, AudioSegmentEnd):
                turn_ended.set()

    reader = asyncio.create_task(read())
    cpu_before, started = time.process_time(), time.perf_counter()
    try:
        await asyncio.sleep(1.0)  # idle frames first
        step = round(TTS_FRAME_S * RATE_HZ)
        for pcm in turns:
            turn_ended.clear()
            began = time.perf_counter()
            for i, start in enumerate(range(0, len(pcm), step)):
                chunk = pcm[start : start + step]
                frame = rtc.AudioFrame(chunk.tobytes(), RATE_HZ, 1, len(chunk))
                if i == 0:
                    first_pushed = time.perf_counter()
                await generator.push_audio(frame)
                if real_time:
                    await asyncio.sleep(
                        max(0.0, began + (i + 1) * TTS_FRAME_S - time.perf_counter())
                    )
            await generator.push_audio(AudioSegmentEnd())
            await asyncio.wait_for(turn_ended.wait(), 30)
            await asyncio.sleep(GAP_S)
    finally:
        stream_s = time.perf_counter() - started
        cpu_s = time.process_time() - cpu_before
        await generator.aclose()
        await reader
    return first_frames, stream_s, cpu_s


async def bench_local(turns: list[np.ndarray], real_time: bool) -> Result:
    async with LocalServer(HEADCAST) as server:
        assert server.process is not None
        options = bench_options(server.url, server.api_key)
        await warm_up(options)
        server_cpu = tree_cpu_s(server.process.pid)
        times, stream_s, agent_cpu = await run_turns(options, turns, real_time)
        server_cpu = tree_cpu_s(server.process.pid) - server_cpu
    return Result("local", pacing(real_time), times, stream_s, agent_cpu, server_cpu)


async def bench_remote(turns: list[np.ndarray], real_time: bool) -> Result:
    port, key = free_port(), "bench-key"
    with tempfile.TemporaryDirectory() as data:
        process = subprocess.Popen(
            [HEADCAST, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
            env={**os.environ, "HEADCAST_API_KEYS": key},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            options = bench_options(f"http://127.0.0.1:{port}", key)
            await wait_ready(options)
            server_cpu = tree_cpu_s(process.pid)
            times, stream_s, agent_cpu = await run_turns(options, turns, real_time)
            server_cpu = tree_cpu_s(process.pid) - server_cpu
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
    return Result("remote", pacing(real_time), times, stream_s, agent_cpu, server_cpu)


def pacing(real_time: bool) -> str:
    return "real time" if real_time else "ahead"


def bench_options(url: str, api_key: str) -> StreamOptions:
    return StreamOptions(
        url=url,
        api_key=api_key,
        portrait=PORTRAIT.read_bytes(),
        size_px=512,
        fps=25,
        input_sample_rate_hz=RATE_HZ,
        output_sample_rate_hz=RATE_HZ,
    )


async def warm_up(options: StreamOptions) -> None:
    """One session first, so the portrait is prepared and cached as in a running agent."""
    generator = await HeadcastVideoGenerator(options).start()
    await generator.aclose()


async def wait_ready(options: StreamOptions) -> None:
    deadline = time.perf_counter() + 120
    while True:
        try:
            await warm_up(options)
            return
        except Exception:
            if time.perf_counter() > deadline:
                raise
            await asyncio.sleep(0.5)


async def main(turns: int) -> list[Result]:
    material = speech_turns(turns)
    results = []
    for bench in (bench_local, bench_remote):
        for real_time in (False, True):
            results.append(await bench(material, real_time))
    return results


def report(results: list[Result]) -> None:
    print(
        f"# {platform.node()}: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"512² at 25 fps, {len(results[0].first_frame_ms)} turns of {TURN_S} s"
    )
    print("mode    TTS        first frame median / worst   agent CPU s/s   server CPU s/s")
    for r in results:
        times = r.first_frame_ms
        print(
            f"{r.mode:7} {r.pacing:10} {statistics.median(times):6.0f} / {max(times):4.0f} ms"
            f"{r.agent_cpu_s / r.stream_s:17.2f}{r.server_cpu_s / r.stream_s:17.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=5)
    report(asyncio.run(main(parser.parse_args().turns)))
    sys.exit(0)
