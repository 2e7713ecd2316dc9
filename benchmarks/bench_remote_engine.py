"""The "omnirt" engine against headcast's own /v1/avatar/realtime on loopback, side by side
with the remote driven directly and with the local warp engine, in one run.

- throughput: the clip's chunks all sent at once by a bare protocol client (what the remote
  alone sustains, frames not decoded) against the engine fed the clip frame by frame (frames
  decoded, as a caller gets them);
- per-chunk latency, one chunk at a time: the bare client's send → VIDX against the engine's
  first frame handed over → the chunk's last frame back (p50 / p95);
- a file end to end: `animate` with the warp engine and with the omnirt engine;
- a live session's first frame on the omnirt engine.

Run: `.venv/bin/python benchmarks/bench_remote_engine.py` (2 CPU cores are shared by the
remote server and the client: figures are ratios of one run).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import wait
from pathlib import Path

import httpx
import numpy as np
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from headcast.animate import animate  # noqa: E402
from headcast.audio import load_audio  # noqa: E402
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
PORTRAIT = ROOT / "samples" / "astronaut.png"
SIZE_PX = 512
FPS = 25
SEQUENTIAL_CHUNKS = 8


def _serve(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "HEADCAST_RATE_LIMIT_PER_MIN": "0"}
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


def bare_latencies(url: str, avatar, pcm: np.ndarray) -> list[float]:  # type: ignore[no-untyped-def]
    ws, spec = _bare_session(url, avatar)
    out = []
    for chunk in _chunks(pcm, spec.chunk_samples)[:SEQUENTIAL_CHUNKS]:
        started = time.perf_counter()
        ws.send(audio_message(chunk))
        _next_video(ws)
        out.append((time.perf_counter() - started) * 1000)
    ws.close()
    return out


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


def engine_latencies(endpoint: RemoteEndpoint, avatar, speech: np.ndarray) -> list[float]:  # type: ignore[no-untyped-def]
    session = OmniRTSession(endpoint, avatar)
    per_chunk = round(session.spec.chunk_samples * FPS / AUDIO_RATE_HZ)
    requests = _frames(speech)
    out = []
    for k in range(SEQUENTIAL_CHUNKS):
        batch = requests[k * per_chunk : (k + 1) * per_chunk]
        started = time.perf_counter()
        futures = [session.submit(r) for r in batch]
        wait(futures)
        out.append((time.perf_counter() - started) * 1000)
    session.close()
    return out


async def live_first_frame_ms(avatar) -> float:  # type: ignore[no-untyped-def]
    session = Session(avatar, engine="omnirt", fps=FPS, realtime=True)
    started = time.perf_counter()
    async for item in session.frames():
        if isinstance(item, VideoFrame):
            session.close()
            return (time.perf_counter() - started) * 1000
    raise AssertionError("no frame")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server, url = _serve(Path(tmp) / "data")
        os.environ["HEADCAST_ENGINE_URL"] = url
        try:
            avatar = prepare_portrait(PORTRAIT, SIZE_PX, name="astronaut")
            speech = load_audio(CLIP, sample_rate=AUDIO_RATE_HZ).samples
            pcm = np.clip(np.rint(speech * 32767), -32768, 32767).astype(np.int16)
            endpoint = RemoteEndpoint.from_settings()
            bare_throughput(url, avatar, pcm)  # warms the server: avatar cached, code loaded
            bare_fps = bare_throughput(url, avatar, pcm)
            engine_fps = engine_throughput(endpoint, avatar, speech)
            bare_ms = bare_latencies(url, avatar, pcm)
            engine_ms = engine_latencies(endpoint, avatar, speech)
            files = {}
            for engine in ("warp", "omnirt"):
                started = time.perf_counter()
                animate(PORTRAIT, CLIP, Path(tmp) / f"{engine}.mp4", engine=engine, size=SIZE_PX)
                files[engine] = time.perf_counter() - started
            first_ms = asyncio.run(live_first_frame_ms(avatar))
        finally:
            server.terminate()
            server.wait()
    seconds = len(speech) / AUDIO_RATE_HZ
    print(f"clip {CLIP.name}: {seconds:.1f} s, {SIZE_PX} px, {FPS} fps")
    print(f"throughput: remote alone {bare_fps:.1f} fps, through the engine {engine_fps:.1f} fps "
          f"(ratio {engine_fps / bare_fps:.2f})")  # fmt: skip
    for name, values in (("remote alone", bare_ms), ("through the engine", engine_ms)):
        p50, p95 = np.percentile(values, [50, 95])
        print(f"per-chunk latency, {name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
    added = np.percentile(engine_ms, 95) - np.percentile(bare_ms, 95)
    print(f"added per chunk (p95): {added:.0f} ms")
    for engine, wall in files.items():
        print(f"animate --engine {engine}: {wall:.2f} s ({seconds / wall:.2f}x real time)")
    print(f"live first frame on omnirt: {first_ms:.0f} ms")


if __name__ == "__main__":
    main()
