"""The "omnirt" engine against headcast's own /v1/avatar/realtime on loopback, side by side
with the remote driven directly and with the local warp engine, in one run.

- throughput: the clip's chunks all sent at once by a bare protocol client (what the remote
  alone sustains, frames not decoded) against the engine fed the clip frame by frame (frames
  decoded, as a caller gets them), three runs each, alternated, medians compared;
- per-chunk latency, one chunk at a time, the two taking turns chunk by chunk: the bare
  client's send → VIDX against the engine's first frame handed over → the chunk's last frame
  back (p50 / p95 over three sessions' chunks after their first);
- a file end to end: `animate` with the warp engine, the omnirt engine and the omnirt-http
  engine (the same server's POST /v1/generate);
- a live session on warp and on omnirt: Session() → first frame, and the first speech pushed
  (20 ms pieces in real time) → first speaking frame;
- the client's memory against a remote slower than real time (omnirt_slow_server.py, 0.5×),
  each measure in a fresh process (remote_engine_memory.py): animate of 10 s and of 60 s of
  LibriVox speech, and a live session given 60 s of speech at once, run for 60 s.

Run: `.venv/bin/python benchmarks/bench_remote_engine.py` (2 CPU cores are shared by the
remote server and the client: figures are ratios of one run).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import wave
from concurrent.futures import wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from headcast.animate import animate  # noqa: E402
from headcast.audio import load_audio  # noqa: E402
from headcast.audio.clip import to_pcm16  # noqa: E402
from headcast.enrol.portrait import prepare_portrait  # noqa: E402
from headcast.render.frame_audio import FrameAudioWindows  # noqa: E402
from headcast.render.remote import RemoteEndpoint  # noqa: E402
from headcast.render.remote.omnirt_wire import (  # noqa: E402
    audio_message,
    create_message,
    parse_text,
    session_spec,
)
from headcast.render.remote.realtime import AUDIO_RATE_HZ, OmniRTSession  # noqa: E402
from headcast.session import Session, VideoFrame  # noqa: E402

CLIP = ROOT / "tests" / "media" / "librivox-0870.wav"
# Speech for the memory measures: the LibriVox samples one after another, repeated.
LONG_SOURCES = [
    ROOT / "samples" / "speech.wav",
    *sorted((ROOT / "tests" / "media").glob("librivox-*.wav")),
]
SHORT_S = 10
LONG_S = 60
SLOW_SPEED = 0.5  # the slow remote's pace, × real time
LIVE_S = 60.0  # how long the live session runs against it
LIVE_REPORT_EVERY = 10  # RSS samples (one a second) between two printed
PUSH_MS = 20  # a live microphone's pieces
ENGINES_LIVE = ("warp", "omnirt")
PORTRAIT = ROOT / "samples" / "astronaut.png"
SIZE_PX = 512
FPS = 25
SEQUENTIAL_CHUNKS = 14  # the clip's whole chunks
LATENCY_SESSIONS = 3  # sessions whose chunks after the first are timed
THROUGHPUT_RUNS = 3  # each side, alternated: the median of each is compared


def _serve(data_dir: Path, shared_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shared_dir.mkdir(parents=True)
    env = {**os.environ, "HEADCAST_RATE_LIMIT_PER_MIN": "0", "HEADCAST_SHARED_DIR": str(shared_dir)}
    command = [sys.executable, "-m", "headcast", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--allow-anonymous"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, f"ws://127.0.0.1:{port}/v1/avatar/realtime"
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the remote server did not start")


def _bare_session(url: str, avatar):  # type: ignore[no-untyped-def]
    ws = connect(url, max_size=1 << 26, proxy=None, legacy=True)
    config = {"fps": FPS, "sample_rate": AUDIO_RATE_HZ, "width": SIZE_PX, "height": SIZE_PX}
    ws.send(create_message("bench", avatar.image, config))
    return ws, session_spec(parse_text(ws.recv()))  # type: ignore[arg-type]


def _next_video(ws) -> bytes:  # type: ignore[no-untyped-def]
    while isinstance(message := ws.recv(), str):
        pass
    return message  # type: ignore[no-any-return]


def _chunks(pcm: np.ndarray, chunk: int) -> list[np.ndarray]:
    padded = np.concatenate([pcm, np.zeros(-len(pcm) % chunk, np.int16)])
    return [padded[i : i + chunk] for i in range(0, len(padded), chunk)]


def bare_throughput(url: str, avatar, pcm: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    ws, spec = _bare_session(url, avatar)
    chunks = _chunks(pcm, spec.chunk_samples)
    started = time.perf_counter()
    for chunk in chunks:
        ws.send(audio_message(chunk))
    frames = sum(int.from_bytes(_next_video(ws)[4:8], "little") for _ in chunks)
    elapsed = time.perf_counter() - started
    ws.close()
    return frames / elapsed


def _frames(speech: np.ndarray) -> list:  # type: ignore[type-arg]
    windows = FrameAudioWindows(FPS, AUDIO_RATE_HZ, 0.0, segment=0)
    return windows.push_audio(speech, AUDIO_RATE_HZ) + windows.finish()


def engine_throughput(endpoint: RemoteEndpoint, avatar, speech: np.ndarray) -> float:  # type: ignore[no-untyped-def]
    session = OmniRTSession(endpoint, avatar)
    requests = _frames(speech)
    started = time.perf_counter()
    futures = [session.submit(r) for r in requests]
    session.flush()
    wait(futures)
    elapsed = time.perf_counter() - started
    assert all(f.exception() is None for f in futures)
    session.close()
    return len(futures) / elapsed


def chunk_latencies(
    url: str,
    endpoint: RemoteEndpoint,
    avatar,
    speech: np.ndarray,  # type: ignore[no-untyped-def]
) -> tuple[list[float], list[float]]:
    """Per-chunk latency, one chunk at a time, the bare client and the engine taking turns
    chunk by chunk so that both see the same load on the shared cores."""
    ws, spec = _bare_session(url, avatar)
    session = OmniRTSession(endpoint, avatar)
    per_chunk = round(session.spec.chunk_samples * FPS / AUDIO_RATE_HZ)
    requests = _frames(speech)
    bare, engine = [], []
    for k, chunk in enumerate(_chunks(to_pcm16(speech), spec.chunk_samples)[:SEQUENTIAL_CHUNKS]):
        started = time.perf_counter()
        ws.send(audio_message(chunk))
        _next_video(ws)
        bare.append((time.perf_counter() - started) * 1000)
        batch = requests[k * per_chunk : (k + 1) * per_chunk]
        started = time.perf_counter()
        futures = [session.submit(r) for r in batch]
        wait(futures)
        engine.append((time.perf_counter() - started) * 1000)
    ws.close()
    session.close()
    return bare, engine


@dataclass(frozen=True)
class LiveFirstFrames:
    start_ms: float  # Session() called → its first frame
    speech_ms: float  # first speech pushed → the first speaking frame


async def live_first_frames(avatar, engine: str, speech: np.ndarray) -> LiveFirstFrames:  # type: ignore[no-untyped-def]
    """A live session's first frame, then its first speaking frame once speech is pushed as a
    microphone would push it (PUSH_MS pieces in real time)."""
    started = time.perf_counter()
    session = Session(avatar, engine=engine, fps=FPS, realtime=True)
    frames = session.frames()
    async for item in frames:
        if isinstance(item, VideoFrame):
            break
    start_ms = (time.perf_counter() - started) * 1000
    piece = AUDIO_RATE_HZ * PUSH_MS // 1000

    async def push() -> None:
        for i in range(0, len(speech), piece):
            session.push_audio(speech[i : i + piece], AUDIO_RATE_HZ)
            await asyncio.sleep(PUSH_MS / 1000)
        session.end_segment()

    pushed = time.perf_counter()
    pusher = asyncio.create_task(push())
    async for item in frames:
        if isinstance(item, VideoFrame) and item.speaking:
            break
    speech_ms = (time.perf_counter() - pushed) * 1000
    pusher.cancel()
    await frames.aclose()  # type: ignore[attr-defined]
    session.close()
    return LiveFirstFrames(start_ms, speech_ms)


def _wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE_HZ)
        out.writeframes(to_pcm16(samples).tobytes())
    return path


def speech_clips(folder: Path) -> dict[str, Path]:
    """LONG_S and SHORT_S of LibriVox speech (the samples, one after another, repeated)."""
    parts = [load_audio(p, sample_rate=AUDIO_RATE_HZ).samples for p in LONG_SOURCES]
    speech = np.concatenate(parts)
    speech = np.tile(speech, math.ceil(LONG_S * AUDIO_RATE_HZ / len(speech)))
    return {
        f"{seconds:g} s": _wav(
            folder / f"speech-{seconds:g}s.wav", speech[: seconds * AUDIO_RATE_HZ]
        )
        for seconds in (SHORT_S, LONG_S)
    }


def _memory(url: str, *args: str) -> dict[str, Any]:
    """One measure of remote_engine_memory.py, in its own process."""
    env = {**os.environ, "HEADCAST_ENGINE_URL": url}
    command = [sys.executable, str(ROOT / "benchmarks" / "remote_engine_memory.py"), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def slow_remote_memory(folder: Path) -> dict[str, dict[str, Any]]:
    """The client's memory against a remote at SLOW_SPEED × real time: animate of the short
    and the long clip, and a live session given the long clip at once for LIVE_S."""
    clips = speech_clips(folder)
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "benchmarks" / "omnirt_slow_server.py"), str(SLOW_SPEED)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = f"ws://127.0.0.1:{int(server.stdout.readline())}/v1/avatar/realtime"
        out = {}
        for name, clip in clips.items():
            out[f"animate {name}"] = _memory(url, "animate", str(clip), str(folder / "slow.mp4"))
        out["live"] = _memory(url, "session", str(clips[f"{LONG_S:g} s"]), str(LIVE_S))
        return out
    finally:
        server.terminate()
        server.wait()


def machine_line() -> str:
    return (f"{platform.node()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")  # fmt: skip


def commit() -> str:
    done = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip() or "unknown"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server, url = _serve(folder / "data", folder / "shared")
        http_url = url.replace("ws://", "http://").removesuffix("/v1/avatar/realtime")
        os.environ["HEADCAST_ENGINE_URL"] = url
        try:
            avatar = prepare_portrait(PORTRAIT, SIZE_PX, name="astronaut")
            speech = load_audio(CLIP, sample_rate=AUDIO_RATE_HZ).samples
            pcm = to_pcm16(speech)
            endpoint = RemoteEndpoint.from_settings()
            bare_throughput(url, avatar, pcm)  # warms the server: avatar cached, code loaded
            bare_runs, engine_runs, client_cpu = [], [], []
            for _ in range(THROUGHPUT_RUNS):
                bare_runs.append(bare_throughput(url, avatar, pcm))
                cpu = time.process_time()
                engine_runs.append(engine_throughput(endpoint, avatar, speech))
                client_cpu.append(time.process_time() - cpu)
            bare_fps, engine_fps = float(np.median(bare_runs)), float(np.median(engine_runs))
            frames_per_run = len(_frames(speech))
            client_ms = float(np.median(client_cpu)) * 1000 / frames_per_run
            bare_ms, engine_ms = [], []
            for _ in range(LATENCY_SESSIONS):
                # A session's first chunk is timed apart: the live first frame below.
                bare, engine_chunks = chunk_latencies(url, endpoint, avatar, speech)
                bare_ms += bare[1:]
                engine_ms += engine_chunks[1:]
            files = {}
            for engine, engine_url in (("warp", url), ("omnirt", url), ("omnirt-http", http_url)):
                os.environ["HEADCAST_ENGINE_URL"] = engine_url
                started = time.perf_counter()
                animate(PORTRAIT, CLIP, folder / f"{engine}.mp4", engine=engine, size=SIZE_PX)
                files[engine] = time.perf_counter() - started
            os.environ["HEADCAST_ENGINE_URL"] = url
            live = {e: asyncio.run(live_first_frames(avatar, e, speech)) for e in ENGINES_LIVE}
        finally:
            server.terminate()
            server.wait()
        memory = slow_remote_memory(folder)
    seconds = len(speech) / AUDIO_RATE_HZ
    print(f"{machine_line()}, commit {commit()}")
    print(f"clip {CLIP.name}: {seconds:.1f} s, {SIZE_PX} px, {FPS} fps")
    print(f"throughput (median of {THROUGHPUT_RUNS}): remote alone {bare_fps:.1f} fps, "
          f"through the engine {engine_fps:.1f} fps "
          f"(ratio {engine_fps / bare_fps:.2f}, target >= 0.9)")  # fmt: skip
    print("  runs, remote alone: " + ", ".join(f"{v:.1f}" for v in bare_runs))
    print("  runs, through the engine: " + ", ".join(f"{v:.1f}" for v in engine_runs))
    print(f"  the client's CPU per frame through the engine: {client_ms:.1f} ms "
          "(on loopback, taken from the server's cores)")  # fmt: skip
    for name, values in (("remote alone", bare_ms), ("through the engine", engine_ms)):
        p50, p95 = np.percentile(values, [50, 95])
        print(f"per-chunk latency, {name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    added = np.percentile(engine_ms, 95) - np.percentile(bare_ms, 95)
    print(f"added per chunk (p95): {added:.0f} ms (target <= 30 ms)")
    for engine, wall in files.items():
        print(f"animate --engine {engine}: {wall:.2f} s ({seconds / wall:.2f}x real time, "
              f"{wall / files['warp']:.2f} of warp's time)")  # fmt: skip
    for engine, first in live.items():
        print(f"live on {engine}: first frame {first.start_ms:.0f} ms after Session(), "
              f"first speaking frame {first.speech_ms:.0f} ms after the first speech pushed")  # fmt: skip
    print(f"client memory, remote at {SLOW_SPEED:g}x real time (fresh process each, MB):")
    for name, m in memory.items():
        growth = m["peak_mb"] - m["before_mb"]
        print(f"  {name}: RSS {m['before_mb']:.0f} before, peak {m['peak_mb']:.0f} "
              f"(+{growth:.0f}), Python heap peak {m['heap_peak_mb']:.0f}, "
              f"{m['frames']} frames in {m['wall_s']:.0f} s")  # fmt: skip
    samples = memory["live"]["samples"]
    over_time = ", ".join(f"{t:.0f} s {mb:.0f}" for t, mb in samples[::LIVE_REPORT_EVERY])
    print(f"  live RSS over time (MB): {over_time}")


if __name__ == "__main__":
    main()
