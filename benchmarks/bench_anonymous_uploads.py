"""What anonymous request bodies held open cost a real ``headcast serve`` process.

Clients without any key each declare a large body, send all of it but its last KB, and hold
the connection: multipart uploads to ``POST /v1/avatars`` (spooled to temp files when read)
and JSON bodies to ``POST /v1/generate`` (read into memory when read). The server is
configured so that the bodies are under its size limits. Reported per case: the server's
resident memory and the bytes of temp files (its temp dir, and what it holds open there)
before, while the bodies are held, and after they are dropped.

Run: ``.venv/bin/python benchmarks/bench_anonymous_uploads.py [--uploads 10] [--upload-mb 100]``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MB = 1024 * 1024
HELD_BACK_BYTES = 1024


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _temp_bytes(pid: int, temp_dir: Path) -> int:
    sizes: dict[int, int] = {}
    for entry in temp_dir.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            sizes[entry.stat().st_ino] = entry.stat().st_size
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(fd).startswith(str(temp_dir)):
                sizes[fd.stat().st_ino] = fd.stat().st_size
    return sum(sizes.values())


def _requests(kind: str, size: int) -> tuple[bytes, bytes]:
    """The head and the body start of one anonymous request of ``size`` body bytes."""
    if kind == "multipart":
        head = (
            "POST /v1/avatars HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: multipart/form-data; boundary=bnd\r\nContent-Length: {size}\r\n\r\n"
        )
        start = b'--bnd\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n\r\n'
    else:
        head = (
            "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n"
        )
        start = b'{"image": "'
    return head.encode(), start


def _hold(port: int, kind: str, count: int, size: int) -> tuple[list[socket.socket], float]:
    filler = (b"\xff" if kind == "multipart" else b"A") * MB
    held, started = [], time.perf_counter()
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        held.append(sock)
        head, start = _requests(kind, size)
        remaining = size - len(start) - HELD_BACK_BYTES
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head + start)
            while remaining > 0:
                piece = filler[: min(MB, remaining)]
                sock.sendall(piece)
                remaining -= len(piece)
    return held, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--upload-mb", type=int, default=100)
    args = parser.parse_args()
    size = args.upload_mb * MB
    with tempfile.TemporaryDirectory() as root_name:
        root = Path(root_name)
        temp_dir = root / "tmp"
        temp_dir.mkdir()
        port = _free_port()
        env = {
            **os.environ,
            "TMPDIR": str(temp_dir),
            "HEADCAST_API_KEYS": "bench-key",
            "HEADCAST_PORT": str(port),
            "HEADCAST_DATA_DIR": str(root / "data"),
            "HEADCAST_SHARED_DIR": str(temp_dir),
            "HEADCAST_MAX_UPLOAD_BYTES": str(size + MB),  # under the limits: only keys stop them
            "HEADCAST_RATE_LIMIT_PER_MIN": "0",
            "MALLOC_ARENA_MAX": "2",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "headcast.cli", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                        break
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            print(f"# {datetime.date.today()} {platform.node()} {os.cpu_count()} CPUs, "
                  f"{args.uploads} anonymous bodies of {args.upload_mb} MB held open")  # fmt: skip
            print("| case | send s | RSS before MB | RSS held MB | RSS after MB "
                  "| temp before MB | temp held MB | temp after MB |")  # fmt: skip
            print("|---|---|---|---|---|---|---|---|")
            for kind in ("multipart", "json"):
                rss0, temp0 = _rss_bytes(server.pid), _temp_bytes(server.pid, temp_dir)
                held, send_s = _hold(port, kind, args.uploads, size)
                time.sleep(2.0)
                rss1, temp1 = _rss_bytes(server.pid), _temp_bytes(server.pid, temp_dir)
                for sock in held:
                    sock.close()
                time.sleep(2.0)
                rss2, temp2 = _rss_bytes(server.pid), _temp_bytes(server.pid, temp_dir)
                print(
                    f"| {kind} | {send_s:.1f} | {rss0 / MB:.0f} | {rss1 / MB:.0f} | "
                    f"{rss2 / MB:.0f} | {temp0 / MB:.0f} | {temp1 / MB:.0f} | {temp2 / MB:.0f} |"
                )
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
