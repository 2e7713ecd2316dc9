"""Speed of the built-in renderer against the first renderer, measured side by side in one run.

For each output size (256, 512, 1024): render-only frames per second on one core (a fixed
motion track from real speech, head motion on), and end to end (a 30 s clip with its
transcript → MP4 with audio, both cores) as a multiple of real time. The first renderer is
taken from git (``--baseline``, default: the first commit) and run from an extracted copy in
its own process; the two alternate, and the best of ``--repeats`` runs of each is kept.
Run: `.venv/bin/python benchmarks/bench_render_speed.py` (a git checkout is needed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PORTRAIT = ROOT / "samples" / "astronaut.png"
SIZES = (256, 512, 1024)


def _worker(src: Path, size: int, mode: str, motion_file: Path, wav: Path, text: str) -> dict:
    """Runs inside a process whose headcast comes from ``src``."""
    sys.path.insert(0, str(src))
    import cv2

    from headcast.face import prepare_avatar
    from headcast.motion import FaceMotion
    from headcast.render import get_engine

    if mode == "render":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        cv2.setNumThreads(1)
        controls = dict(np.load(motion_file))
        known = set(FaceMotion.__dataclass_fields__)
        n = len(next(iter(controls.values())))
        motions = [
            FaceMotion(**{k: float(v[i]) for k, v in controls.items() if k in known})
            for i in range(n)
        ]
        session = get_engine("warp").start(prepare_avatar(PORTRAIT, size))
        for m in motions[:10]:
            session.render(m)
        started = time.perf_counter()
        for m in motions:
            session.render(m)
        return {"fps": n / (time.perf_counter() - started)}
    from headcast.animate import animate

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = animate(PORTRAIT, wav, Path(tmp) / "out.mp4", text=text, size=size)
        wall = time.perf_counter() - started
    return {"x_real_time": result.audio_duration_s / wall, "fps": result.n_frames / wall}


def _extract(rev: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "src"], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _run(src: Path, size: int, mode: str, motion_file: Path, wav: Path, text: str) -> dict:
    env = dict(os.environ, HEADCAST_CACHE_DIR=str(motion_file.parent / f"cache-{src.parent.name}"))
    env.pop("PYTHONPATH", None)
    out = subprocess.run(
        [
            sys.executable, __file__, "--worker", str(src), str(size), mode,
            str(motion_file), str(wav), text,
        ],
        check=True, capture_output=True, text=True, env=env, cwd=motion_file.parent,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        src, size, mode, motion_file, wav, text = sys.argv[2:8]
        print(json.dumps(_worker(Path(src), int(size), mode, Path(motion_file), Path(wav), text)))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--baseline", default=None, help="git revision of the first renderer")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    baseline = args.baseline or subprocess.run(
        ["git", "-C", str(ROOT), "rev-list", "--max-parents=0", "HEAD"],
        check=True, capture_output=True, text=True,
    ).stdout.split()[0]  # fmt: skip

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_animate import thirty_second_speech

    from headcast.audio import load_audio
    from headcast.motion import build_motion
    from headcast.phones import phones_from_audio

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wav, transcript = thirty_second_speech(tmp / "speech.wav", args.seconds)
        audio = load_audio(wav, sample_rate=16_000)
        track = build_motion(phones_from_audio(audio, transcript), audio, 25.0, seed=0)
        frames = min(track.n_frames, 250)
        motion_file = tmp / "motion.npz"
        np.savez(motion_file, **{k: v[:frames] for k, v in track.controls.items()})
        versions = {
            f"first renderer ({baseline[:7]})": _extract(baseline, tmp / "baseline"),
            "current": ROOT / "src",
        }
        results: dict[tuple[str, int, str], dict] = {}
        for size in SIZES:
            for mode in ("render", "animate"):
                for _ in range(args.repeats):
                    for name, src in versions.items():
                        got = _run(src, size, mode, motion_file, wav, transcript)
                        key = (name, size, mode)
                        if key not in results or got["fps"] > results[key]["fps"]:
                            results[key] = got
                        print(f"  {name} {size}² {mode}: {got}", file=sys.stderr)

    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"portrait: {PORTRAIT.name}; render-only: {frames} frames on one core; end to end: "
          f"{args.seconds:.0f} s of speech with its transcript → MP4, 25 fps, both cores\n")  # fmt: skip
    print("| size | renderer | render-only fps (1 core) | end-to-end fps | × real time |")
    print("|---|---|---|---|---|")
    for size in SIZES:
        for name in versions:
            r, a = results[(name, size, "render")], results[(name, size, "animate")]
            print(
                f"| {size}² | {name} | {r['fps']:.0f} | {a['fps']:.0f} | {a['x_real_time']:.1f} |"
            )


if __name__ == "__main__":
    main()
