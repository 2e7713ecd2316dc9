"""Hostile live clients against a real ``headcast serve`` process on loopback.

(a) Flood: a victim key streams ``/v1/stream`` (JPEG + PCM, idle frames at 25 fps) while a
    second process on another key floods tiny PCM messages and pings for ``--flood-s`` seconds,
    connecting again each time it is cut off. The victim's frame rate and p95 frame interval,
    and the slowest ``/healthz`` answer, are measured with and without the flood.
(b) Backlog: with the default limits, a client pushes an hour of speech into one session as
    fast as the limits let it (1 s messages, just under the message and byte rates), reading
    the frames that come back. The server's and the session process's resident memory are
    sampled throughout, and again once the session is closed; ``--rounds`` sessions do this
    one after another, on the same pooled session process.

Run: ``.venv/bin/python benchmarks/bench_hostile_live.py`` (``--flood-s``, ``--size``,
``--hour-s``, ``--skip-flood``, ``--skip-backlog``). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import portrait_b64  # noqa: E402

FLOODER = ROOT / "tests" / "support" / "ws_flood.py"
RATE_HZ = 16_000
VICTIM_KEY, FLOOD_KEY = "victim-key", "flood-key"
SETTLE_S = 3.0  # victim frames before measuring
PUSH_SECONDS_PER_MESSAGE = 1.0
# The pushing client keeps this share under the server's message and byte rates.
UNDER_LIMIT = 0.9
WARM_UP_S = 3.0


# -- processes -------------------------------------------------------------------------------


def _proc_stats() -> dict[int, tuple[int, str]]:
    """pid → (parent pid, command line) of every process."""
    stats: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except (OSError, IndexError, ValueError):
                continue
            stats[int(entry.name)] = (ppid, cmd)
    return stats


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def session_processes(self) -> list[int]:
        """The session processes: children of the server's multiprocessing fork server."""
        stats = _proc_stats()
        forkservers = {
            pid for pid, (ppid, cmd) in stats.items()
            if ppid == self.process.pid and "forkserver" in cmd
        }  # fmt: skip
        return sorted(pid for pid, (ppid, _) in stats.items() if ppid in forkservers)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(data_dir: str, **settings: str) -> Server:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, **{f"HEADCAST_{k.upper()}": v for k, v in settings.items()})
    log = Path(data_dir) / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "headcast", "serve", "--port", str(port),
             "--data-dir", str(Path(data_dir) / "data")],
            env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return Server(process, port, log)
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start: " + log.read_text()[-2000:])


# -- (a) the flood ---------------------------------------------------------------------------


class Victim:
    """A stream on the victim key; frame arrival times kept."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.errors: list[str] = []

    async def run(self, ws) -> None:
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    self.arrivals.append(time.monotonic())
                else:
                    event = json.loads(message)
                    if event.get("type") == "error":
                        self.errors.append(event["code"])
        except ConnectionClosed:
            pass

    def window(self, start: float, end: float) -> dict:
        times = [t for t in self.arrivals if start <= t < end]
        gaps = np.diff(times) * 1000 if len(times) > 1 else np.zeros(1)
        per_second = np.histogram(times, bins=np.arange(start, end + 1e-9, 1.0))[0]
        return {
            "fps": round(len(times) / (end - start), 2),
            "slowest_second_frames": int(per_second.min()) if len(per_second) else 0,
            "p95_interval_ms": round(float(np.percentile(gaps, 95)), 1),
            "max_interval_ms": round(float(gaps.max()), 1),
        }


def _poll_health(base: str, stop: threading.Event, latencies: list[float]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(base + "/healthz")
            latencies.append(time.perf_counter() - started)
            stop.wait(0.1)


async def flood_phase(server: Server, victim: Victim, flood_s: float, flooding: bool) -> dict:
    stop, latencies = threading.Event(), []
    poller = threading.Thread(target=_poll_health, args=(server.base, stop, latencies))
    poller.start()
    report: dict = {}
    start = time.monotonic()
    if flooding:
        flooder = await asyncio.create_subprocess_exec(
            sys.executable, str(FLOODER), server.ws + "/v1/stream", FLOOD_KEY, str(flood_s),
            "--reconnect", stdout=subprocess.PIPE,
        )  # fmt: skip
        out, _ = await flooder.communicate()
        report["flooder"] = json.loads(out)
    else:
        await asyncio.sleep(flood_s)
    end = time.monotonic()
    stop.set()
    poller.join()
    report.update(victim.window(start, end))
    report["healthz_max_ms"] = round(max(latencies) * 1000, 1)
    return report


async def flood_benchmark(size: int, flood_s: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, api_keys=f"{VICTIM_KEY},{FLOOD_KEY}")
        try:
            victim = Victim()
            headers = {"X-API-Key": VICTIM_KEY}
            async with connect(
                server.ws + "/v1/stream", additional_headers=headers, max_size=2**24
            ) as ws:
                start = {"type": "start", "image_b64": portrait_b64(), "size": size}
                await ws.send(json.dumps(start))
                assert json.loads(await ws.recv())["type"] == "started"
                reader = asyncio.create_task(victim.run(ws))
                await asyncio.sleep(SETTLE_S)
                quiet = await flood_phase(server, victim, flood_s, flooding=False)
                flooded = await flood_phase(server, victim, flood_s, flooding=True)
                after = await flood_phase(server, victim, 3.0, flooding=False)
                await ws.close()
                await reader
        finally:
            server.stop()
    return {"size": size, "seconds": flood_s, "without_flood": quiet, "with_flood": flooded,
            "after_flood_3s": after, "victim_errors": victim.errors}  # fmt: skip


# -- (b) an hour of audio as fast as the limits allow ---------------------------------------


class Sampler:
    """Peak resident memory of the server and its session processes, sampled every 0.2 s."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.peak_server_mb = 0.0
        self.peak_session_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_server_mb = max(self.peak_server_mb, rss_mb(self.server.process.pid))
            for pid in self.server.session_processes():
                self.peak_session_mb = max(self.peak_session_mb, rss_mb(pid))
            self._stop.wait(0.2)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _memory(server: Server) -> dict:
    return {
        "server_mb": round(rss_mb(server.process.pid), 1),
        "session_processes_mb": [round(rss_mb(p), 1) for p in server.session_processes()],
    }


async def push_round(
    server: Server, size: int, payload: bytes, n_messages: int, per_s: float
) -> dict:
    """One session: a warm-up turn, then ``n_messages`` pushes paced at ``per_s``, then close."""
    errors: dict[str, int] = {}
    frames = 0

    async def read(ws) -> None:
        nonlocal frames
        try:
            async for message in ws:
                if isinstance(message, bytes):
                    frames += 1
                else:
                    event = json.loads(message)
                    if event.get("type") == "error":
                        errors[event["code"]] = errors.get(event["code"], 0) + 1
        except ConnectionClosed:
            pass

    with Sampler(server) as sampler:
        async with connect(server.ws + "/v1/stream", max_size=2**24) as ws:
            start = {"type": "start", "image_b64": portrait_b64(), "size": size}
            await ws.send(json.dumps(start))
            assert json.loads(await ws.recv())["type"] == "started"
            reader = asyncio.create_task(read(ws))
            # One short turn first: the recognizer loads on a process's first speech.
            await ws.send(payload)
            await ws.send(json.dumps({"type": "end_segment"}))
            await asyncio.sleep(WARM_UP_S)
            opened = _memory(server)
            t0 = time.monotonic()
            for i in range(n_messages):
                await ws.send(payload)
                await asyncio.sleep(max(0.0, t0 + (i + 1) / per_s - time.monotonic()))
            push_s = time.monotonic() - t0
            await asyncio.sleep(2.0)
            during = _memory(server)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 30)
            close_code = ws.close_code
        await asyncio.sleep(2.0)
        closed = _memory(server)
    refused = errors.get("backlog_full", 0)
    return {
        "audio_pushed_s": n_messages * PUSH_SECONDS_PER_MESSAGE,
        "push_wall_s": round(push_s, 1),
        "accepted_s": (n_messages - refused) * PUSH_SECONDS_PER_MESSAGE,
        "errors": errors,
        "close_code": close_code,
        "frames": frames,
        "memory_session_open": opened,
        "memory_after_push": during,
        "memory_after_close": closed,
        "peak_server_mb": round(sampler.peak_server_mb, 1),
        "peak_session_process_mb": round(sampler.peak_session_mb, 1),
    }


async def backlog_benchmark(
    size: int, hour_s: float, rounds: int, messages_per_s: float, bytes_per_s: float
) -> dict:
    """``rounds`` sessions one after another on one server (so on one pooled process)."""
    chunk = np.zeros(int(PUSH_SECONDS_PER_MESSAGE * RATE_HZ), "<i2")
    chunk[::7] = 3000  # not silence: the recognizer works on it as on speech
    payload = chunk.tobytes()
    per_s = min(messages_per_s, bytes_per_s / len(payload)) * UNDER_LIMIT
    n_messages = int(hour_s / PUSH_SECONDS_PER_MESSAGE)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(tmp, allow_anonymous="1")
        try:
            baseline = _memory(server)
            results = [
                await push_round(server, size, payload, n_messages, per_s) for _ in range(rounds)
            ]
        finally:
            server.stop()
    return {"size": size, "memory_at_start": baseline, "rounds": results}


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--flood-s", type=float, default=10.0)
    parser.add_argument("--hour-s", type=float, default=3600.0)
    parser.add_argument("--rounds", type=int, default=3, help="sessions pushing in turn")
    parser.add_argument("--skip-flood", action="store_true")
    parser.add_argument("--skip-backlog", action="store_true")
    args = parser.parse_args()
    from headcast.server import ServerConfig

    defaults = ServerConfig(allow_anonymous=True)
    result: dict = {
        "machine": f"{platform.node()} {platform.processor() or platform.machine()}, "
                   f"{os.cpu_count()} CPUs",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": _commit(),
        "limits": {"ws_messages_per_s": defaults.ws_messages_per_s,
                   "ws_bytes_per_s": defaults.ws_bytes_per_s,
                   "max_live_backlog_s": defaults.max_live_backlog_s},
    }  # fmt: skip
    if not args.skip_flood:
        result["flood"] = await flood_benchmark(args.size, args.flood_s)
        print(json.dumps({"flood": result["flood"]}), file=sys.stderr, flush=True)
    if not args.skip_backlog:
        result["backlog"] = await backlog_benchmark(
            args.size,
            args.hour_s,
            args.rounds,
            defaults.ws_messages_per_s,
            defaults.ws_bytes_per_s,
        )
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
