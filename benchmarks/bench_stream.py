"""Live streaming over WebSocket on loopback, against a real ``headcast serve`` process.

Speech (the LibriVox recordings, 16 kHz) is pushed into ``/v1/stream`` in 20 ms chunks at
real-time pace, as a microphone or a streaming TTS delivers it, in turns of 2.4 s with 0.6 s
pauses; frames come back as JPEG + PCM at 512², 25 fps. Measured on the client:

- latency: for every pushed chunk, from sending it to receiving the first frame whose audio
  contains it (this includes the lip-sync look-ahead, 120 ms by default); and from a turn's
  first chunk to its first frame, for turns pushed in real time and for turns pushed at once
  (200 ms chunks, as a TTS running ahead of real time sends them);
- pacing: frame inter-arrival times against 1/fps, and lag behind the session's own clock;
- A/V offset: lag of the best correlation between the mouth aperture (dlib judge) and the
  envelope of the audio that came with the frames (positive = video late);
- interrupt → idle: from sending ``interrupt`` mid-turn to receiving the first idle frame;
- concurrency: sessions ramped up until one falls behind (fewer than ``KEEP_UP_FPS`` frames a
  second, or p95 lag over ``MAX_LAG_MS``), with the server's CPU use;
- ``/v1/avatar/realtime``: time from an ``AUDI`` chunk sent to its ``VIDX`` frames back;
- stages, in-process with a profiler: lip-sync, render, JPEG, H.264 + AAC (fMP4) per frame.

Run: ``.venv/bin/python benchmarks/bench_stream.py`` (``--max-sessions N``, ``--quick``).

With ``--enrolled [VIDEO]`` the same measures are taken with an avatar enrolled from a video
(uploaded to ``POST /v1/avatars`` and followed to ready; by default the shipped GRID clip,
or a clip of the test-data cache by name, e.g. ``dfrf-cnn2``, cut to its first
``--enrol-first-s`` seconds): one session's latency; the concurrency ramp (ending at the
second step in a row that falls behind), with the session processes' share of the CPU and
the memory (RSS, and PSS, which splits the pages session processes share with their fork
server) of the server's processes; and in-process the cost per frame of the enrolled engine,
the memory a session of it adds, and a profile of its render. ``--compare`` ramps the photo
avatar beside it (a server of its own, steps interleaved) and costs the warp engine beside
the enrolled one.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import pstats
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CLIPS, MEDIA, clip_pcm16, clip_wav, portrait_b64  # noqa: E402

SIZE = 512
FPS = 25
RATE = 16_000
PUSH_MS = 20
AT_ONCE_CHUNK_MS = 200
TURN_S = 2.4
PAUSE_S = 0.6
FRAME_HEADER = struct.Struct("<4sIdiII")
KEEP_UP_FPS = 24.5
MAX_LAG_MS = 100.0
WARMUP_S = 3.0
WINDOW_S = 12.0
PORTRAIT = MEDIA / "obama.jpg"
N_INTERRUPTS = 12


def speech_turns() -> list[np.ndarray]:
    turns = []
    n = int(TURN_S * RATE)
    for clip in CLIPS:
        pcm = clip_pcm16(clip, RATE)
        turns += [pcm[i : i + n] for i in range(0, len(pcm) - n + 1, n)]
    return turns


# -- the server ------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen
    port: int

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def cpu_s(self, sessions_only: bool = False) -> float:
        """User + system CPU seconds of the server and its session processes (all threads),
        or of the session processes alone."""
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stats[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # exited meanwhile
        tree, grew = {self.process.pid}, True
        while grew:
            more = {pid for pid, f in stats.items() if int(f[1]) in tree} - tree
            tree |= more
            grew = bool(more)
        if sessions_only:
            forkservers = {pid for pid in tree if b"forkserver" in command_line(pid)}
            tree = {pid for pid in tree if int(stats[pid][1]) in forkservers}
        ticks = sum(int(stats[pid][11]) + int(stats[pid][12]) for pid in tree if pid in stats)
        return ticks / os.sysconf("SC_CLK_TCK")

    def memory_mb(self) -> Memory:
        """Resident and proportional set sizes of the server's process tree, and of its
        session processes (the fork server's children) one by one."""
        parents = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat[1])
        tree, grew = {self.process.pid}, True
        while grew:
            more = {pid for pid, parent in parents.items() if parent in tree} - tree
            tree |= more
            grew = bool(more)
        forkservers = {pid for pid in tree if b"forkserver" in command_line(pid)}
        sizes = {pid: set_sizes_mb(pid) for pid in tree}
        sessions = [sizes[pid] for pid in tree if parents.get(pid) in forkservers]
        return Memory(
            rss=sum(r for r, _ in sizes.values()),
            pss=sum(p for _, p in sizes.values()),
            session_rss=[r for r, _ in sessions],
            session_pss=[p for _, p in sessions],
        )


@dataclass
class Memory:
    """Megabytes: the whole tree's, and each session process's."""

    rss: float
    pss: float
    session_rss: list[float]
    session_pss: list[float]


def command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def set_sizes_mb(pid: int | str) -> tuple[float, float]:
    """(RSS, PSS) of a process in MB; PSS shares the pages it shares with others (its fork
    server's) among them. Zeros for a process gone meanwhile."""
    sizes = {}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            key, value = line.split(":", 1)
            sizes[key] = int(value.split()[0]) / 1024
    except (OSError, ValueError):
        return 0.0, 0.0
    return sizes.get("Rss", 0.0), sizes.get("Pss", 0.0)


def start_server(data_dir: str) -> Server:
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(
        os.environ, HEADCAST_MAX_LIVE_SESSIONS="32", HEADCAST_RATE_LIMIT_PER_MIN="0"
    )  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "headcast", "serve", "--allow-anonymous",
         "--port", str(port), "--data-dir", data_dir],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return Server(process, port)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start: " + process.stderr.read().decode()[-2000:])


# -- one streaming client --------------------------------------------------------------------


@dataclass
class Received:
    t: float
    index: int
    segment: int | None
    pcm: np.ndarray
    jpeg: bytes | None


@dataclass
class StreamClient:
    url: str
    keep_images: bool = False
    avatar_id: str | None = None  # a stored avatar instead of the photo
    frames: list[Received] = field(default_factory=list)
    events: list[tuple[float, dict]] = field(default_factory=list)
    sent: dict[int, list[float]] = field(default_factory=dict)  # segment → chunk send times
    interrupts: list[float] = field(default_factory=list)
    segment: int = 0

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url + "/v1/stream", max_size=2**24)
        start = {"type": "start", "size": SIZE, "fps": FPS}
        if self.avatar_id is None:
            start["image_b64"] = portrait_b64(PORTRAIT.name)
        else:
            start["avatar_id"] = self.avatar_id
        await self.ws.send(json.dumps(start))
        started = json.loads(await self.ws.recv())
        assert started["type"] == "started", started
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for message in self.ws:
                now = time.perf_counter()
                if isinstance(message, str):
                    self.events.append((now, json.loads(message)))
                    continue
                _, index, _, segment, jpeg_len, _ = FRAME_HEADER.unpack_from(message)
                body = memoryview(message)[FRAME_HEADER.size :]
                self.frames.append(
                    Received(
                        now, index, None if segment < 0 else segment,
                        np.frombuffer(body[jpeg_len:], "<i2"),
                        bytes(body[:jpeg_len]) if self.keep_images else None,
                    )
                )  # fmt: skip
        except ConnectionClosed:
            pass

    async def speak(
        self, pcm: np.ndarray, interrupt_after_s: float | None = None, at_once: bool = False
    ) -> None:
        """Push a turn at real-time pace in 20 ms chunks, or all at once in 200 ms chunks as a
        TTS running ahead of real time would; optionally interrupt it part-way."""
        self.segment += 1
        times = self.sent.setdefault(self.segment, [])
        step = RATE * (AT_ONCE_CHUNK_MS if at_once else PUSH_MS) // 1000
        t0 = time.perf_counter()
        for k, start in enumerate(range(0, len(pcm), step)):
            if interrupt_after_s is not None and k * PUSH_MS / 1000 >= interrupt_after_s:
                self.interrupts.append(time.perf_counter())
                await self.ws.send(json.dumps({"type": "interrupt"}))
                return
            times.append(time.perf_counter())
            await self.ws.send(pcm[start : start + step].tobytes())
            if not at_once:
                await asyncio.sleep(max(0.0, t0 + (k + 1) * PUSH_MS / 1000 - time.perf_counter()))
        await self.ws.send(json.dumps({"type": "end_segment"}))

    async def close(self) -> None:
        await self.ws.send(json.dumps({"type": "close"}))
        await asyncio.wait_for(self.reader, 10)

    # -- analysis ----------------------------------------------------------------------------

    def chunk_latencies_ms(
        self, since: float = 0.0, segments: set[int] | None = None
    ) -> tuple[list[float], list[float]]:
        """Per pushed chunk, and per turn start: send → first frame holding its audio."""
        by_segment: dict[int, list[Received]] = {}
        for f in self.frames:
            if f.segment is not None:
                by_segment.setdefault(f.segment, []).append(f)
        chunks, starts = [], []
        samples_per_chunk = RATE * PUSH_MS // 1000
        for segment, times in self.sent.items():
            if segments is not None and segment not in segments:
                continue
            shown = by_segment.get(segment, [])
            for k, t_sent in enumerate(times):
                j = k * samples_per_chunk // (RATE // FPS)
                if j < len(shown) and t_sent >= since:
                    chunks.append((shown[j].t - t_sent) * 1000)
                    if k == 0:
                        starts.append((shown[0].t - t_sent) * 1000)
        return chunks, starts

    def interrupt_to_idle_ms(self) -> list[float]:
        out = []
        for t_int in self.interrupts:
            idle = next((f.t for f in self.frames if f.t > t_int and f.segment is None), None)
            if idle is not None:
                out.append((idle - t_int) * 1000)
        return out

    def window(self, start: float, end: float) -> list[Received]:
        return [f for f in self.frames if start <= f.t < end]


def lag_ms(frames: list[Received]) -> np.ndarray:
    """How far each frame arrives behind the session's earliest-seen clock (frame i at i/fps)."""
    offsets = np.array([f.t - f.index / FPS for f in frames])
    return (offsets - np.minimum.accumulate(offsets)) * 1000


def percentiles(values: list[float] | np.ndarray) -> str:
    v = np.asarray(values, dtype=np.float64)
    if not len(v):
        return "– / –"
    return f"{np.percentile(v, 50):.0f} / {np.percentile(v, 95):.0f}"


def largest(values: list[float] | np.ndarray) -> str:
    return f"{np.max(values):.0f}" if len(values) else "–"


# -- runs ------------------------------------------------------------------------------------


async def single_session(
    server: Server, turns: list[np.ndarray], n_turns: int, avatar_id: str | None = None
) -> dict:
    client = StreamClient(server.ws, keep_images=True, avatar_id=avatar_id)
    await client.open()
    await asyncio.sleep(1.0)
    for turn in turns[:n_turns]:
        await client.speak(turn)
        await asyncio.sleep(PAUSE_S + 0.3)
    paced = set(client.sent)
    rng = np.random.default_rng(1)
    for k in range(N_INTERRUPTS):
        turn = turns[(n_turns + k) % len(turns)]
        await client.speak(turn, interrupt_after_s=float(rng.uniform(0.5, 1.5)))
        await asyncio.sleep(1.0)
    at_once = set()
    for turn in turns[: min(n_turns, 6)]:
        await client.speak(turn, at_once=True)
        at_once.add(client.segment)
        await asyncio.sleep(TURN_S + PAUSE_S)
    await client.close()
    chunks, starts = client.chunk_latencies_ms(segments=paced)
    intervals = np.diff([f.t for f in client.frames]) * 1000
    return {
        "client": client,
        "chunks": chunks,
        "starts": starts,
        "starts_at_once": client.chunk_latencies_ms(segments=at_once)[1],
        "interval_dev": np.abs(intervals - 1000 / FPS),
        "interval_std": float(intervals.std()),
        "lag": lag_ms(client.frames),
        "interrupt": client.interrupt_to_idle_ms(),
    }


def av_offsets(client: StreamClient, n_turns: int) -> tuple[int, list[int]]:
    """A/V offset over all turns' frames together, and per turn."""
    import cv2

    from quality import lipsync
    from quality.judge import FaceJudge

    judge = FaceJudge()
    per_turn, all_measures, all_audio = [], [], []
    for segment in range(1, n_turns + 1):
        frames = [f for f in client.frames if f.segment == segment]
        images = [
            cv2.cvtColor(cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
            for f in frames
        ]  # fmt: skip
        audio = np.concatenate([f.pcm for f in frames]).astype(np.float32) / 32768
        measures = judge.track(images)
        per_turn.append(lipsync.av_offset_frames(measures, audio, FPS, sample_rate=RATE))
        all_measures += measures
        all_audio.append(audio)
    overall = lipsync.av_offset_frames(
        all_measures, np.concatenate(all_audio), FPS, sample_rate=RATE
    )
    return overall, per_turn


def gaps(client: StreamClient) -> int:
    """Idle frames shown inside a turn (its audio ran late): each is 40 ms of silence."""
    count = 0
    for segment in client.sent:
        indices = [f.index for f in client.frames if f.segment == segment]
        if indices:
            count += (indices[-1] - indices[0] + 1) - len(indices)
    return count


async def concurrent(
    server: Server, turns: list[np.ndarray], n: int, avatar_id: str | None = None
) -> dict:
    clients = [StreamClient(server.ws, avatar_id=avatar_id) for _ in range(n)]
    for c in clients:
        await c.open()

    async def talk(c: StreamClient, offset: int) -> None:
        await asyncio.sleep(offset * 0.37 % (TURN_S + PAUSE_S))  # turns out of step
        k = offset
        while True:
            await c.speak(turns[k % len(turns)])
            await asyncio.sleep(PAUSE_S)
            k += 1

    talkers = [asyncio.create_task(talk(c, i)) for i, c in enumerate(clients)]
    await asyncio.sleep(WARMUP_S)
    t0, cpu0, sessions0 = time.perf_counter(), server.cpu_s(), server.cpu_s(sessions_only=True)
    await asyncio.sleep(WINDOW_S / 2)
    memory = await asyncio.to_thread(server.memory_mb)  # off the loop the frames arrive on
    await asyncio.sleep(WINDOW_S / 2)
    t1, cpu1, sessions1 = time.perf_counter(), server.cpu_s(), server.cpu_s(sessions_only=True)
    for t in talkers:
        t.cancel()
    await asyncio.gather(*talkers, return_exceptions=True)
    for c in clients:
        await c.close()
    load = os.getloadavg()[0]
    fps = [len(c.window(t0, t1)) / (t1 - t0) for c in clients]
    lags = [float(np.percentile(lag_ms(c.window(t0 - 1.0, t1))[25:], 95)) for c in clients]
    chunks = [ms for c in clients for ms in c.chunk_latencies_ms(since=t0)[0]]
    frames = sum(len(c.window(t0, t1)) for c in clients)
    return {
        "n": n,
        "min_fps": min(fps),
        "max_lag": max(lags),
        "chunks": chunks,
        "cpu_cores": (cpu1 - cpu0) / (t1 - t0),
        "cpu_ms_per_frame": (cpu1 - cpu0) * 1000 / max(frames, 1),
        "session_cpu_ms_per_frame": (sessions1 - sessions0) * 1000 / max(frames, 1),
        "keeps_up": min(fps) >= KEEP_UP_FPS and max(lags) <= MAX_LAG_MS,
        "gaps": sum(gaps(c) for c in clients),
        "load": load,
        "memory": memory,
    }


async def omnirt_chunks(
    server: Server, turns: list[np.ndarray], n_chunks: int
) -> tuple[int, list[float]]:
    from websockets.asyncio.client import connect

    audio = np.concatenate(turns)
    out = []
    async with connect(server.ws + "/v1/avatar/realtime", max_size=2**25) as ws:
        image = portrait_b64(PORTRAIT.name)
        config = {"width": SIZE, "height": SIZE, "fps": FPS, "sample_rate": RATE}
        await ws.send(json.dumps({"type": "session.create", "inputs": {"image_b64": image}, "config": config}))  # fmt: skip
        chunk = json.loads(await ws.recv())["audio"]["chunk_samples"]
        for k in range(n_chunks):
            t = time.perf_counter()
            await ws.send(b"AUDI" + audio[k * chunk : (k + 1) * chunk].tobytes())
            while not isinstance(await ws.recv(), bytes):
                pass
            out.append((time.perf_counter() - t) * 1000)
    return chunk, out


def closures_kept(chunk_s: float) -> tuple[int, int]:
    """Lip closures of an unchunked stream still shown when answered chunk by chunk."""
    from headcast.audio import load_audio
    from headcast.motion.live import LiveLipSync

    kept = total = 0
    for clip in CLIPS:
        audio = load_audio(clip_wav(clip), sample_rate=RATE).samples
        whole = LiveLipSync(FPS)
        reference = [m for _, m in whole.push_audio(audio, RATE)] + [m for _, m in whole.finish()]
        chunked, motions, n, pushed = LiveLipSync(FPS), [], int(chunk_s * RATE), 0
        for start in range(0, len(audio) - n + 1, n):
            motions += [m for _, m in chunked.push_audio(audio[start : start + n], RATE)]
            pushed += n
            motions += [m for _, m in chunked.emit_now(pushed * FPS // RATE)]
        closed = np.array([m.lip_press for m in reference[: len(motions)]]) > 0.5
        shown = np.array([m.lip_press for m in motions]) > 0.5
        edges = np.flatnonzero(np.diff(np.concatenate([[0], closed.astype(int), [0]])))
        for begin, end in zip(edges[::2], edges[1::2], strict=True):
            total += 1
            kept += bool(shown[begin:end].any())
    return kept, total


def stages(turns: list[np.ndarray]) -> tuple[dict[str, float], str]:
    """CPU time per frame of each stage at 512², in-process (process CPU time, OpenCV's worker
    threads included; other load on the machine inflates it less than wall time), and a
    profile of the whole path."""
    import io

    from headcast.face import prepare_avatar
    from headcast.motion.live import LiveLipSync
    from headcast.render import get_engine
    from headcast.video.encode import encode_jpeg
    from headcast.video.fmp4 import FragmentedMp4Writer

    audio = np.concatenate(turns[:4])
    avatar = prepare_avatar(PORTRAIT, SIZE)
    renderer = get_engine("warp").start(avatar)
    step = RATE * PUSH_MS // 1000
    silence = np.zeros(48_000 // FPS, np.int16)

    def run_once() -> dict[str, float]:
        clock = time.process_time
        t = clock()
        live = LiveLipSync(FPS)
        motions = []
        for start in range(0, len(audio), step):
            motions += [m for _, m in live.push_audio(audio[start : start + step], RATE)]
        motions += [m for _, m in live.finish()]
        lipsync_s = clock() - t
        t = clock()
        images = [renderer.render(m) for m in motions]
        render_s = clock() - t
        t = clock()
        for image in images:
            encode_jpeg(image, 80)
        jpeg_s = clock() - t
        mp4 = FragmentedMp4Writer(SIZE, SIZE, FPS, 48_000)
        t = clock()
        for image in images:
            mp4.write(image, silence)
        mp4.close()
        fmp4_s = clock() - t
        n = len(motions)
        return {
            "lip-sync (phones + motion)": lipsync_s * 1000 / n,
            "render (warp)": render_s * 1000 / n,
            "JPEG encode (q80)": jpeg_s * 1000 / n,
            "H.264 + AAC fMP4 encode": fmp4_s * 1000 / n,
        }

    run_once()  # warm-up: caches, first-call set-up
    runs = [run_once() for _ in range(2)]
    costs = {name: min(r[name] for r in runs) for name in runs[0]}
    profile = cProfile.Profile()
    profile.enable()
    run_once()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(10)
    return costs, out.getvalue()


# -- main --------------------------------------------------------------------------------------


def print_machine() -> None:
    """The run's first lines: the machine, the time and how busy it was."""
    print(f"# {platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()} · "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")  # fmt: skip
    print(f"load average before: {os.getloadavg()}")


async def run(args: argparse.Namespace) -> None:
    turns = speech_turns()
    n_turns = 3 if args.quick else 8
    print_machine()
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(data_dir)
        try:
            one = await single_session(server, turns, n_turns)
            print("\n## One session, 512², JPEG + PCM, speech pushed in real time (20 ms chunks)\n")
            print("| measure | p50 / p95 | max |\n|---|---|---|")
            print(f"| audio pushed → its frame out (ms) | {percentiles(one['chunks'])} | {largest(one['chunks'])} |")  # fmt: skip
            print(f"| turn start → first frame (ms) | {percentiles(one['starts'])} | {largest(one['starts'])} |")  # fmt: skip
            print(f"| frame interval − 40 ms, absolute (ms) | {percentiles(one['interval_dev'])} | {largest(one['interval_dev'])} |")  # fmt: skip
            print(f"| lag behind the session clock (ms) | {percentiles(one['lag'])} | {largest(one['lag'])} |")  # fmt: skip
            print(f"| turn start → first frame, turn pushed at once in 200 ms chunks (ms) | {percentiles(one['starts_at_once'])} | {largest(one['starts_at_once'])} |")  # fmt: skip
            print(f"| interrupt → first idle frame (ms) | {percentiles(one['interrupt'])} | {largest(one['interrupt'])} |")  # fmt: skip
            print(f"\nframe interval std: {one['interval_std']:.1f} ms; interrupts: {len(one['interrupt'])}")  # fmt: skip
            overall, per_turn = av_offsets(one["client"], n_turns)
            print(
                f"A/V offset (frames, + = video late): {overall} over all turns; per turn {per_turn}"
            )
            print(f"idle frames inside turns (audio late): {gaps(one['client'])}")
            chunk, rt = await omnirt_chunks(server, turns, 20 if args.quick else 40)
            print(f"\n/v1/avatar/realtime, {chunk / RATE:.2f} s chunks ({chunk * FPS // RATE} frames) at 512²: AUDI → VIDX ms p50 / p95 {percentiles(rt)}, max {largest(rt)}")  # fmt: skip
            print("\n## Concurrent sessions, 512², 25 fps, JPEG + PCM\n")
            print("| sessions | slowest fps | worst p95 lag ms | audio→frame p50 / p95 ms | idle frames inside turns | server CPU cores | server CPU ms/frame | sessions 2 cores could carry | load avg | keeps up |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|---|---|")
            for n in range(1, args.max_sessions + 1):
                r = await concurrent(server, turns, n)
                print(f"| {n} | {r['min_fps']:.1f} | {r['max_lag']:.0f} | {percentiles(r['chunks'])} | {r['gaps']} | {r['cpu_cores']:.2f} | {r['cpu_ms_per_frame']:.1f} | {2000 / (r['cpu_ms_per_frame'] * FPS):.1f} | {r['load']:.1f} | {'yes' if r['keeps_up'] else 'no'} |", flush=True)  # fmt: skip
                if not r["keeps_up"]:
                    break
        finally:
            server.process.terminate()
            server.process.wait(10)
    print("\n## Chunked answers (/v1/avatar/realtime) against an unchunked stream\n")
    print("| chunk s | lip closures still shown |\n|---|---|")
    for chunk_s in (0.32, 0.4, 0.48, 0.64, 1.12):
        kept, total = closures_kept(chunk_s)
        print(f"| {chunk_s} | {kept}/{total} ({kept / total:.0%}) |")
    costs, profile = stages(turns)
    print("\n## Stages per frame at 512² (in-process, CPU time, best of 2)\n")
    print("| stage | CPU ms/frame |\n|---|---|")
    for name, ms in costs.items():
        print(f"| {name} | {ms:.2f} |")
    jpeg_path = sum(v for k, v in costs.items() if "fMP4" not in k)
    print(f"| **JPEG path total** | {jpeg_path:.2f} → {2000 / (jpeg_path * FPS):.1f} sessions on 2 idle cores |")  # fmt: skip
    print("\n```\n" + "\n".join(profile.strip().splitlines()[-16:]) + "\n```")
    print(f"load average after: {os.getloadavg()}")


# -- an enrolled avatar ------------------------------------------------------------------------


ENROL_FIRST_S = 30.0
ENROL_TIMEOUT_S = 900.0
# A ramp goes on past one step that falls behind (the machine is shared: a neighbour's burst
# can sink one step), and ends at the second in a row.
RAMP_MISSES = 2


def clip_to_enrol(name: str, first_s: float, folder: Path) -> tuple[Path, str | None]:
    """The video to enrol and its transcript (when known): the GRID clip, a clip of the
    test-data cache by name, or a path; cut to its first ``first_s`` seconds (packets copied,
    not re-encoded) when longer."""
    import av

    from scripts.extract_talking_clips import cache_dir
    from tests.support.enrol_clips import GRID_CLIP, GRID_TRANSCRIPT

    if name == "grid":
        return GRID_CLIP, GRID_TRANSCRIPT
    path = Path(name)
    if not path.exists():
        cached = sorted(cache_dir().glob(f"{name}.*"))
        path = next((c for c in cached if c.suffix != ".json"), path)
    if not path.exists():
        raise SystemExit(f"no video '{name}' (a path, 'grid', or a clip in {cache_dir()})")
    with av.open(str(path)) as source:
        if source.duration is None or source.duration / av.time_base <= first_s:
            return path, None
        cut = folder / f"{path.stem}-first{first_s:g}s{path.suffix}"
        with av.open(str(cut), "w") as target:
            streams = {s.index: target.add_stream_from_template(s) for s in source.streams
                       if s.type in ("video", "audio")}  # fmt: skip
            for packet in source.demux(*[source.streams[i] for i in streams]):
                if packet.dts is None:
                    continue
                if packet.pts is not None and packet.pts * packet.time_base >= first_s:
                    continue
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    return cut, None


def enrol_on_server(server: Server, video: Path, transcript: str | None) -> tuple[str, dict, float]:
    """The video uploaded to ``POST /v1/avatars`` and followed to ready: the avatar's id, its
    coverage report and the seconds from upload to ready."""
    import httpx

    base = f"http://127.0.0.1:{server.port}"
    t0 = time.perf_counter()
    with video.open("rb") as f:
        answer = httpx.post(base + "/v1/avatars", files={"video": (video.name, f, "video/mp4")},
                            data={"text": transcript} if transcript else {}, timeout=120)  # fmt: skip
    if answer.status_code != 202:
        raise RuntimeError(f"enrolment refused: {answer.status_code} {answer.text[:500]}")
    avatar_id = answer.json()["id"]
    while time.perf_counter() - t0 < ENROL_TIMEOUT_S:
        avatar = httpx.get(f"{base}/v1/avatars/{avatar_id}", timeout=30).json()
        if avatar["status"] == "ready":
            return avatar_id, avatar["coverage"], time.perf_counter() - t0
        if avatar["status"] != "enrolling":
            raise RuntimeError(f"enrolment failed: {avatar.get('error')}")
        time.sleep(0.5)
    raise RuntimeError(f"still enrolling after {ENROL_TIMEOUT_S:.0f} s")


def engine_costs(
    turns: list[np.ndarray], enrolled_folder: Path, compare: bool
) -> tuple[dict[str, dict[str, float]], str]:
    """In-process, CPU ms per frame at 512² of each engine's render and render + JPEG (best
    of 2 after a warm-up, on one OpenCV thread), the memory an enrolled session adds to its
    process, and a profile of the enrolled render."""
    import io

    import cv2

    from headcast.enrol.portrait import prepare_portrait
    from headcast.motion.live import LiveLipSync
    from headcast.render import get_engine
    from headcast.video.encode import encode_jpeg

    # One OpenCV thread, as in a session process: its second thread costs about 2 ms of CPU
    # a frame here and saves no time.
    cv2.setNumThreads(1)
    audio = np.concatenate(turns[:4])
    live, motions, step = LiveLipSync(FPS), [], RATE * PUSH_MS // 1000
    for start in range(0, len(audio), step):
        motions += [m for _, m in live.push_audio(audio[start : start + step], RATE)]
    motions += [m for _, m in live.finish()]
    avatars = {"enrolled": prepare_portrait(enrolled_folder, SIZE)}
    if compare:
        avatars["warp"] = prepare_portrait(PORTRAIT, SIZE)
    costs: dict[str, dict[str, float]] = {}
    profile_text = ""
    for engine, avatar in avatars.items():
        rss0 = set_sizes_mb("self")[0]
        session = get_engine(engine).start(avatar)

        def render_all(encode: bool, session=session) -> float:
            t = time.process_time()
            for m in motions:
                image = session.render(m)
                if encode:
                    encode_jpeg(image, 80)
            return (time.process_time() - t) * 1000 / len(motions)

        render_all(False)  # warm-up: caches, first-call set-up
        costs[engine] = {
            "render": min(render_all(False) for _ in range(2)),
            "render + JPEG": min(render_all(True) for _ in range(2)),
            "memory_mb": set_sizes_mb("self")[0] - rss0,
        }
        if engine == "enrolled":
            profile = cProfile.Profile()
            profile.enable()
            render_all(False)
            profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("tottime").print_stats(10)
            stats.sort_stats("cumulative").print_stats(r"headcast|\{", 10)
            profile_text = out.getvalue()
        session.close()
    return costs, profile_text


async def run_enrolled(args: argparse.Namespace) -> None:
    turns = speech_turns()
    n_turns = 3 if args.quick else 6
    print_machine()
    with tempfile.TemporaryDirectory() as scratch:
        video, transcript = clip_to_enrol(args.enrolled, args.enrol_first_s, Path(scratch))
        data_dirs = {kind: Path(scratch) / kind for kind in ("enrolled", "photo")}
        servers = {"enrolled": start_server(str(data_dirs["enrolled"]))}
        if args.compare:
            servers["photo"] = start_server(str(data_dirs["photo"]))
        try:
            avatar_id, coverage, enrol_s = enrol_on_server(servers["enrolled"], video, transcript)
            print(f"\nenrolled {video.name} through POST /v1/avatars in {enrol_s:.1f} s: "
                  f"{coverage['usable_s']:.1f} s usable of {coverage['duration_s']:.1f} s, "
                  f"{coverage['usable_frames']} frames")  # fmt: skip
            avatars = {"enrolled": avatar_id, "photo": None}
            kinds = list(servers)
            idle = {kind: servers[kind].memory_mb() for kind in kinds}
            print("\n## One session, 512², JPEG + PCM, speech pushed in real time (20 ms chunks)\n")
            print("| avatar | audio pushed → its frame out p50 / p95 ms | turn start → first frame p50 / p95 ms | lag behind the session clock p50 / p95 ms | interrupt → idle p50 / p95 ms |")  # fmt: skip
            print("|---|---|---|---|---|")
            for kind in kinds:
                one = await single_session(servers[kind], turns, n_turns, avatars[kind])
                print(f"| {kind} | {percentiles(one['chunks'])} | {percentiles(one['starts'])} | {percentiles(one['lag'])} | {percentiles(one['interrupt'])} |", flush=True)  # fmt: skip
            print(
                "\n## Concurrent sessions, 512², 25 fps, JPEG + PCM (steps interleaved, a server each)\n"
            )
            print("| sessions | avatar | slowest fps | worst p95 lag ms | audio→frame p50 / p95 ms | idle frames inside turns | server CPU cores | server CPU ms/frame | of which session processes | sessions 2 cores could carry | tree RSS / PSS MB | session process RSS max / PSS mean MB | PSS added per session MB | load avg | keeps up |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
            most, misses = {kind: 0 for kind in kinds}, {kind: 0 for kind in kinds}
            for n in range(1, args.max_sessions + 1):
                for kind in [k for k in kinds if misses[k] < RAMP_MISSES]:
                    r = await concurrent(servers[kind], turns, n, avatars[kind])
                    m = r["memory"]
                    added = (m.pss - idle[kind].pss) / n
                    processes = (f"{max(m.session_rss):.0f} / {np.mean(m.session_pss):.0f}"
                                 if m.session_rss else "–")  # fmt: skip
                    print(f"| {n} | {kind} | {r['min_fps']:.1f} | {r['max_lag']:.0f} | {percentiles(r['chunks'])} | {r['gaps']} | {r['cpu_cores']:.2f} | {r['cpu_ms_per_frame']:.1f} | {r['session_cpu_ms_per_frame']:.1f} | {2000 / (r['cpu_ms_per_frame'] * FPS):.1f} | {m.rss:.0f} / {m.pss:.0f} | {processes} | {added:.0f} | {r['load']:.1f} | {'yes' if r['keeps_up'] else 'no'} |", flush=True)  # fmt: skip
                    misses[kind] = 0 if r["keeps_up"] else misses[kind] + 1
                    if r["keeps_up"]:
                        most[kind] = n
                if min(misses.values()) >= RAMP_MISSES:
                    break
            print("\nmost sessions keeping 25 fps: " + ", ".join(f"{k} {most[k]}" for k in kinds))
        finally:
            for server in servers.values():
                server.process.terminate()
                server.process.wait(10)
        folder = data_dirs["enrolled"] / "avatars" / avatar_id / "enrolled"
        costs, profile = engine_costs(turns, folder, args.compare)
    print(
        "\n## Engines per frame at 512² (in-process, one OpenCV thread, CPU ms per frame, best of 2)\n"
    )
    print("| engine | render | render + JPEG (q80) | sessions 2 idle cores could carry | RSS added by a session MB |")  # fmt: skip
    print("|---|---|---|---|---|")
    for engine, c in costs.items():
        print(f"| {engine} | {c['render']:.2f} | {c['render + JPEG']:.2f} | {2000 / (c['render + JPEG'] * FPS):.1f} | {c['memory_mb']:.0f} |")  # fmt: skip
    print("\nProfile of the enrolled render (top 10 by own time, then by time inside):\n")
    skip = ("List reduced", "Ordered by", "function calls")
    rows = [
        line for line in profile.splitlines() if line.strip() and not any(w in line for w in skip)
    ]
    print("```\n" + "\n".join(rows) + "\n```")
    print(f"load average after: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-sessions", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="fewer turns and chunks")
    parser.add_argument("--enrolled", nargs="?", const="grid", metavar="VIDEO",
                        help="measure an avatar enrolled from VIDEO: a path, a clip of the "
                        "test-data cache by name, or 'grid' (the default: the shipped clip)")  # fmt: skip
    parser.add_argument("--enrol-first-s", type=float, default=ENROL_FIRST_S,
                        help="enrol only the video's first seconds")  # fmt: skip
    parser.add_argument("--compare", action="store_true",
                        help="with --enrolled: the photo avatar and warp engine beside it")  # fmt: skip
    args = parser.parse_args()
    asyncio.run(run_enrolled(args) if args.enrolled else run(args))


if __name__ == "__main__":
    main()
