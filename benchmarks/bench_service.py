"""Load test of the service: sustained mixed requests on loopback against a real
``headcast serve`` process, as the container runs it (one worker, ``MALLOC_ARENA_MAX=2``).

Two kinds of clients run at once for the whole measurement: cheap clients loop over
``/healthz``, ``POST /v1/lipsync`` and ``POST /v1/pick-reference``; render clients loop over
``POST /animate`` (a 3 s clip at 256², WebM) and ``POST /v1/jobs`` (the same clip, polled until
done, then downloaded). Reported: requests per second, latency percentiles and errors (any
status other than the expected one, 429 included) per route, and the server's resident memory
after start, after warm-up and at each quarter of the run.

Run: ``.venv/bin/python benchmarks/bench_service.py [--duration-s 300] [--cheap-clients 3]
[--render-clients 2] [--malloc-arena-max 2]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "media"
CLIP = "0880"  # 2.99 s of LibriVox speech with its transcript
PORTRAIT = ROOT / "samples" / "astronaut.png"
CANDIDATES = (MEDIA / "obama.jpg", MEDIA / "biden.jpg")
RENDER_SIZE_PX = 256
API_KEY = "bench-key"
START_TIMEOUT_S = 120.0
REQUEST_TIMEOUT_S = 300.0
JOB_POLL_S = 0.1
RSS_SAMPLE_S = 0.5
WARMUP_ROUNDS = 2  # of every route, before measuring


@dataclass
class Outcome:
    route: str
    started_s: float
    latency_s: float
    ok: bool
    detail: str = ""


@dataclass
class Results:
    outcomes: list[Outcome] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)


class Client:
    """One simulated caller with its own keep-alive connection."""

    def __init__(self, base_url: str, avatar_id: str) -> None:
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=REQUEST_TIMEOUT_S,
        )
        self.avatar_id = avatar_id
        self.audio = (MEDIA / f"librivox-{CLIP}.wav").read_bytes()
        self.text = (MEDIA / f"librivox-{CLIP}.txt").read_text().strip()
        self.photo = PORTRAIT.read_bytes()
        self.candidates = [(p.name, p.read_bytes()) for p in CANDIDATES]

    def _timed(self, results: Results, route: str, call, check) -> None:
        started = time.perf_counter()
        try:
            response = call()
            ok, detail = check(response)
        except httpx.HTTPError as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        results.add(Outcome(route, started, time.perf_counter() - started, ok, detail))

    def healthz(self, results: Results) -> None:
        self._timed(
            results, "GET /healthz", lambda: self.http.get("/healthz"),
            lambda r: _expect(r, 200, "application/json"),
        )  # fmt: skip

    def lipsync(self, results: Results) -> None:
        self._timed(
            results, "POST /v1/lipsync",
            lambda: self.http.post(
                "/v1/lipsync", files={"audio": ("speech.wav", self.audio, "audio/wav")},
                data={"text": self.text, "format": "rhubarb-json"},
            ),
            lambda r: _expect(r, 200, "application/json"),
        )  # fmt: skip

    def pick_reference(self, results: Results) -> None:
        def check(response: httpx.Response) -> tuple[bool, str]:
            ok, detail = _expect(response, 200, "application/json")
            if ok and len(response.json()["ranking"]) != len(self.candidates):
                return False, "ranking is missing photos"
            return ok, detail

        files = [("images", (name, data, "image/jpeg")) for name, data in self.candidates]
        self._timed(
            results, "POST /v1/pick-reference",
            lambda: self.http.post("/v1/pick-reference", files=files), check,
        )  # fmt: skip

    def animate(self, results: Results) -> None:
        self._timed(
            results, "POST /animate",
            lambda: self.http.post(
                "/animate",
                files={"audio": ("speech.wav", self.audio, "audio/wav"),
                       "image": ("portrait.png", self.photo, "image/png")},
                data={"text": self.text, "size": str(RENDER_SIZE_PX)},
            ),
            lambda r: _expect(r, 200, "video/webm", min_bytes=10_000),
        )  # fmt: skip

    def job(self, results: Results) -> None:
        """Submit, poll until done, download: the latency a caller of the queue sees."""
        started = time.perf_counter()
        try:
            submitted = self.http.post(
                "/v1/jobs",
                files={"audio": ("speech.wav", self.audio, "audio/wav")},
                data={"avatar_id": self.avatar_id, "text": self.text, "size": str(RENDER_SIZE_PX)},
            )
            ok, detail = _expect(submitted, 202, "application/json")
            if ok:
                url = f"/v1/jobs/{submitted.json()['id']}"
                while (state := self.http.get(url).json())["state"] in ("queued", "running"):
                    time.sleep(JOB_POLL_S)
                if state["state"] != "succeeded":
                    ok, detail = False, f"job {state['state']}: {state['error']}"
                else:
                    video = self.http.get(state["video_url"])
                    ok, detail = _expect(video, 200, "video/mp4", min_bytes=10_000)
                    self.http.delete(url)
        except httpx.HTTPError as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        results.add(
            Outcome("POST /v1/jobs → video", started, time.perf_counter() - started, ok, detail)
        )

    def close(self) -> None:
        self.http.close()


def _expect(
    response: httpx.Response, status: int, content_type: str, min_bytes: int = 1
) -> tuple[bool, str]:
    if response.status_code != status:
        return False, f"{response.status_code}: {response.text[:200]}"
    if not response.headers.get("content-type", "").startswith(content_type):
        return False, f"content-type {response.headers.get('content-type')}"
    if len(response.content) < min_bytes:
        return False, f"{len(response.content)} bytes"
    return True, ""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, malloc_arena_max: int = 0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("HEADCAST_") and k != "MALLOC_ARENA_MAX"
    }  # fmt: skip
    if malloc_arena_max:
        env["MALLOC_ARENA_MAX"] = str(malloc_arena_max)
    env |= {
        "HEADCAST_API_KEYS": API_KEY,
        "HEADCAST_RATE_LIMIT_PER_MIN": "0",  # a load test is one caller sending a lot
        "HEADCAST_CACHE_DIR": str(data_dir / "cache"),
    }
    command = [sys.executable, "-m", "headcast", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--data-dir", str(data_dir / "data")]  # fmt: skip
    # A file, not a pipe: nobody reads the log while the load runs, and a full pipe would
    # stall the server.
    with (data_dir / "server.log").open("w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((data_dir / "server.log").read_text())
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the server did not become ready")


def client_loop(client: Client, calls: list, results: Results, stop: threading.Event) -> None:
    rng = random.Random(id(client))
    while not stop.is_set():
        rng.choice(calls)(results)


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000, q))


def machine() -> str:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return f"{os.cpu_count()} vCPU ({cpu}), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration-s", type=float, default=300.0)
    parser.add_argument("--cheap-clients", type=int, default=3)
    parser.add_argument("--render-clients", type=int, default=2)
    parser.add_argument(
        "--malloc-arena-max", type=int, default=2,
        help="glibc heaps, as deploy/Dockerfile sets it; 0 = glibc's default",
    )  # fmt: skip
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="headcast-bench-") as folder:
        process, base = start_server(Path(folder), args.malloc_arena_max)
        try:
            run(process, base, args)
        finally:
            process.terminate()
            process.wait(timeout=60)


def run(process: subprocess.Popen, base: str, args: argparse.Namespace) -> None:
    pid = process.pid
    rss_started = rss_mb(pid)
    with httpx.Client(headers={"Authorization": f"Bearer {API_KEY}"}, timeout=60) as http:
        avatar = http.post(base + "/v1/avatars", files={"image": PORTRAIT.read_bytes()})
        avatar.raise_for_status()
    avatar_id = avatar.json()["id"]

    cheap = [Client(base, avatar_id) for _ in range(args.cheap_clients)]
    render = [Client(base, avatar_id) for _ in range(args.render_clients)]
    warmup, c = Results(), Client(base, avatar_id)
    for _ in range(WARMUP_ROUNDS):
        for call in (c.healthz, c.lipsync, c.pick_reference, c.animate, c.job):
            call(warmup)
    c.close()
    failed = [o for o in warmup.outcomes if not o.ok]
    if failed:
        raise SystemExit(f"warm-up failed: {failed[0].route}: {failed[0].detail}")
    rss_warm = rss_mb(pid)

    results = Results()
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=client_loop, args=(c, [c.healthz, c.lipsync, c.pick_reference], results, stop)
        )
        for c in cheap
    ] + [
        threading.Thread(target=client_loop, args=(c, [c.animate, c.job], results, stop))
        for c in render
    ]
    load_before = os.getloadavg()[0]
    started_at = datetime.datetime.now(datetime.UTC)
    started = time.perf_counter()
    rss_samples: list[tuple[float, float]] = []
    for thread in threads:
        thread.start()
    while (elapsed := time.perf_counter() - started) < args.duration_s:
        rss_samples.append((elapsed, rss_mb(pid)))
        time.sleep(RSS_SAMPLE_S)
    stop.set()
    for thread in threads:
        thread.join()
    wall_s = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    rss_end = rss_mb(pid)
    for c in cheap + render:
        c.close()

    print(f"started {started_at:%Y-%m-%d %H:%M} UTC, {machine()}")
    arenas = args.malloc_arena_max or "glibc default"
    print(
        f"{args.cheap_clients} cheap + {args.render_clients} render clients for {wall_s:.0f} s "
        f"(MALLOC_ARENA_MAX {arenas}); "
        f"load average {load_before:.1f} before, {load_after:.1f} after"
    )
    print()
    print("| route | requests | errors | per s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    by_route: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in results.outcomes:
        by_route[outcome.route].append(outcome)
    for route, outcomes in sorted(by_route.items()):
        latencies = [o.latency_s for o in outcomes]
        errors = [o for o in outcomes if not o.ok]
        print(
            f"| `{route}` | {len(outcomes)} | {len(errors)} | {len(outcomes) / wall_s:.2f} | "
            f"{percentile_ms(latencies, 50):.0f} | {percentile_ms(latencies, 95):.0f} | "
            f"{percentile_ms(latencies, 99):.0f} | {max(latencies) * 1000:.0f} |"
        )
    total_errors = sum(not o.ok for o in results.outcomes)
    print(
        f"| all | {len(results.outcomes)} | {total_errors} | "
        f"{len(results.outcomes) / wall_s:.2f} | | | | |"
    )
    print()
    quarter_s = args.duration_s / 4
    quarters = [
        max(rss for t, rss in rss_samples if q * quarter_s <= t < (q + 1) * quarter_s)
        for q in range(4)
    ]
    print(
        f"server RSS MB: {rss_started:.0f} started, {rss_warm:.0f} after warm-up, "
        f"peak per quarter {', '.join(f'{q:.0f}' for q in quarters)}, {rss_end:.0f} at the end"
    )
    for outcome in [o for o in results.outcomes if not o.ok][:5]:
        print(f"error: {outcome.route}: {outcome.detail}")


if __name__ == "__main__":
    main()
