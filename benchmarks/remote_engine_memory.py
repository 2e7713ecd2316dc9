"""One memory measure of the "omnirt" engine's client, run in a fresh process so that its
resident memory is its own; the remote is whatever ``$HEADCAST_ENGINE_URL`` names.

- ``animate WAV OUT``: ``headcast.animate(..., engine="omnirt")`` of the speech in WAV;
- ``session WAV SECONDS``: a live session (``realtime=True``) given all the speech in WAV at
  once, its frames taken for SECONDS of wall time.

Prints one JSON line: resident memory before the measure and at its peak (MB), its samples
over time, the Python heap's peak during the measure (tracemalloc, NumPy arrays included),
the wall time and the frames made.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from headcast.animate import animate  # noqa: E402
from headcast.audio import load_audio  # noqa: E402
from headcast.enrol.portrait import prepare_portrait  # noqa: E402
from headcast.session import Session, VideoFrame  # noqa: E402

PORTRAIT = ROOT / "samples" / "astronaut.png"
SIZE_PX = 512
FPS = 25
SAMPLE_EVERY_S = 1.0


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


class RssSampler:
    """Resident memory every SAMPLE_EVERY_S, from a thread, while the measure runs."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            now = time.perf_counter() - self.started
            self.samples.append((round(now, 1), round(_status_mb("VmRSS"), 1)))
            if self._stop.wait(SAMPLE_EVERY_S):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


async def _live(wav: Path, seconds: float) -> tuple[int, int]:
    avatar = prepare_portrait(PORTRAIT, SIZE_PX, name="astronaut")
    session = Session(avatar, engine="omnirt", fps=FPS, realtime=True)
    audio = load_audio(wav, sample_rate=16_000)
    session.push_audio(audio.samples, audio.sample_rate)  # all of it, far ahead of real time
    session.end_segment()
    frames = speaking = 0
    deadline = time.perf_counter() + seconds
    async for item in session.frames():
        if isinstance(item, VideoFrame):
            frames += 1
            speaking += item.speaking
        if time.perf_counter() >= deadline:
            break
    session.close()
    return frames, speaking


def main() -> None:
    what, wav = sys.argv[1], Path(sys.argv[2])
    prepare_portrait(PORTRAIT, SIZE_PX, name="astronaut")  # code loaded before the baseline
    before_mb = _status_mb("VmRSS")
    tracemalloc.start()
    sampler = RssSampler()
    started = time.perf_counter()
    if what == "animate":
        result = animate(PORTRAIT, wav, Path(sys.argv[3]), engine="omnirt", fps=FPS, size=SIZE_PX)
        frames, speaking = result.n_frames, result.n_frames
    elif what == "session":
        frames, speaking = asyncio.run(_live(wav, float(sys.argv[3])))
    else:
        raise SystemExit(f"unknown measure '{what}'")
    wall_s = time.perf_counter() - started
    sampler.stop()
    _, heap_peak = tracemalloc.get_traced_memory()
    report = {
        "before_mb": round(before_mb, 1),
        "peak_mb": round(_status_mb("VmHWM"), 1),
        "samples": sampler.samples,
        "heap_peak_mb": round(heap_peak / 2**20, 1),
        "wall_s": round(wall_s, 1),
        "frames": frames,
        "speaking_frames": speaking,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
