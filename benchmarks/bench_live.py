"""Latency of the live lip-sync path: audio pushed → its FaceMotion frame final.

Speech is pushed in 20 ms chunks, as a live transport delivers it. For every frame, the
latency is how much audio past the frame's own time had to arrive before it was emitted, plus
the compute time of the push that emitted it. Run: `.venv/bin/python benchmarks/bench_live.py`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CLIPS, clip_wav  # noqa: E402

CHUNK_MS = 20.0
FPS = 25.0


def main() -> None:
    from headcast.audio import load_audio
    from headcast.motion.live import LiveLipSync

    print(
        "| look-ahead ms | recognizer | latency p50 ms | latency p95 ms | max ms | real-time factor |"
    )
    print("|---|---|---|---|---|---|")
    audio = [load_audio(clip_wav(c)) for c in CLIPS]
    total_s = sum(a.duration_s for a in audio)
    for lookahead_ms in (80.0, 120.0, 150.0):
        for fast in (True, False):
            latencies, compute = [], 0.0
            for clip in audio:
                live = LiveLipSync(FPS, lookahead_ms=lookahead_ms, fast=fast)
                chunk = int(16000 * CHUNK_MS / 1000)
                for start in range(0, len(clip.samples), chunk):
                    t0 = time.perf_counter()
                    frames = live.push_audio(clip.samples[start : start + chunk], 16000)
                    spent = time.perf_counter() - t0
                    compute += spent
                    pushed_until = (start + chunk) / 16000
                    latencies += [pushed_until - i / FPS + spent for i, _ in frames]
                t0 = time.perf_counter()
                live.finish()
                compute += time.perf_counter() - t0
            ms = np.array(latencies) * 1000
            print(
                f"| {lookahead_ms:.0f} | {'fast' if fast else 'accurate'} | {np.percentile(ms, 50):.0f} | "
                f"{np.percentile(ms, 95):.0f} | {ms.max():.0f} | {compute / total_s:.3f} |"
            )


if __name__ == "__main__":
    main()
