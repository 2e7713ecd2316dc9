"""Peak resident memory of `headcast animate` against the length of the speech.

Each run is a fresh `python -m headcast animate` process; its whole process tree (the motion
worker is a subprocess) is sampled every few milliseconds from /proc: the peak of the sum of
the tree's VmRSS, and each process's own VmHWM (its kernel-kept peak). Speech of any length
is built by joining the bundled recordings with short pauses, as a 16 kHz mono WAV and as a
44.1 kHz stereo MP3 made with PyAV.

Run: `.venv/bin/python benchmarks/bench_memory.py` (add `--src /other/checkout/src` to measure
another version of the code: the import is checked to come from there).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
import wave
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MEDIA = ROOT / "tests" / "media"
RECORDINGS = [SAMPLES / "speech.wav"] + [
    MEDIA / f"librivox-{clip}.wav" for clip in ("0870", "0880", "0890", "0920", "0930")
]
JOIN_GAP_S = 0.4
SAMPLE_INTERVAL_S = 0.005
COMPRESSED_RATE_HZ = 44_100


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


def joined_speech(seconds: float) -> tuple[np.ndarray, int, str]:
    """Whole bundled recordings, ``JOIN_GAP_S`` apart, as many as fit in ``seconds`` (int16),
    with their transcript."""
    parts: list[np.ndarray] = []
    texts: list[str] = []
    total, rate, k = 0, 16_000, 0
    while True:
        path = RECORDINGS[k % len(RECORDINGS)]
        samples, rate = _read_wav(path)
        gap = int(JOIN_GAP_S * rate) if parts else 0
        if total + gap + len(samples) > seconds * rate:
            break
        if gap:
            parts.append(np.zeros(gap, np.int16))
        parts.append(samples)
        texts.append(path.with_suffix(".txt").read_text().strip())
        total += gap + len(samples)
        k += 1
    return np.concatenate(parts), rate, " ".join(texts)


def write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def write_mp3(path: Path, samples: np.ndarray, rate: int) -> Path:
    """The speech as a 44.1 kHz stereo MP3 (the right channel slightly quieter)."""
    import av
    import soxr

    x = soxr.resample(samples.astype(np.float32) / 32768, rate, COMPRESSED_RATE_HZ)
    stereo = np.stack([x, 0.8 * x]).astype(np.float32)
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=COMPRESSED_RATE_HZ, layout="stereo")
        stream.codec_context.bit_rate = 128_000
        step = 1152 * 64
        for start in range(0, stereo.shape[1], step):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(stereo[:, start : start + step]),
                format="fltp",
                layout="stereo",
            )
            frame.sample_rate = COMPRESSED_RATE_HZ
            frame.pts = start
            frame.time_base = Fraction(1, COMPRESSED_RATE_HZ)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _status_kb(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    return out


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(c) for c in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return kids


@dataclass
class TreePeak:
    tree_rss_mb: float = 0.0  # the peak of the tree's summed VmRSS
    main_hwm_mb: float = 0.0
    workers_hwm_mb: float = 0.0  # the largest VmHWM of any descendant
    samples: int = 0


def sample_tree(root: int, stop: threading.Event) -> TreePeak:
    """Sample ``root`` and its descendants until ``stop`` is set or ``root`` is gone."""
    peak = TreePeak()
    hwm: dict[int, int] = {}
    while not stop.is_set():
        pids, frontier = [], [root]
        while frontier:
            pid = frontier.pop()
            pids.append(pid)
            frontier += _children(pid)
        total = 0
        for pid in pids:
            status = _status_kb(pid)
            total += status.get("VmRSS", 0)
            if "VmHWM" in status:
                hwm[pid] = max(hwm.get(pid, 0), status["VmHWM"])
        peak.tree_rss_mb = max(peak.tree_rss_mb, total / 1024)
        peak.samples += 1
        time.sleep(SAMPLE_INTERVAL_S)
    peak.main_hwm_mb = hwm.get(root, 0) / 1024
    peak.workers_hwm_mb = max((v for p, v in hwm.items() if p != root), default=0) / 1024
    return peak


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    env["HEADCAST_MAX_AUDIO_SECONDS"] = "600"
    return env


def check_import(src: Path | None) -> str:
    """Where `headcast` is imported from under ``src``; fails when it is not from there."""
    where = subprocess.run(
        [sys.executable, "-c", "import headcast; print(headcast.__file__)"],
        env=_env(src),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if src is not None and not Path(where).resolve().is_relative_to(src.resolve()):
        raise SystemExit(f"headcast imports from {where}, not from {src}")
    return where


def measure(
    audio: Path, image: Path, out: Path, src: Path | None, size: int, text: Path | None
) -> tuple[TreePeak, float]:
    command = [sys.executable, "-m", "headcast", "animate", str(image), str(audio)]
    command += ["-o", str(out), "-q", "--size", str(size)]
    if text is not None:
        command += ["--text", f"@{text}"]
    started = time.perf_counter()
    process = subprocess.Popen(command, env=_env(src), stderr=subprocess.PIPE)
    stop = threading.Event()
    result: list[TreePeak] = []
    sampler = threading.Thread(target=lambda: result.append(sample_tree(process.pid, stop)))
    sampler.start()
    _, stderr = process.communicate()
    wall_s = time.perf_counter() - started
    stop.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"animate failed ({process.returncode}): {stderr.decode()[-2000:]}")
    return result[0], wall_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    parser.add_argument("--formats", nargs="+", default=["wav", "mp3"], choices=["wav", "mp3"])
    parser.add_argument("--src", type=Path, action="append", help="a checkout's src (repeatable)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--transcript", action="store_true", help="also run each with its transcript"
    )
    args = parser.parse_args()
    sources: list[Path | None] = args.src or [None]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")  # fmt: skip
    for src in sources:
        print(f"code: {check_import(src)}")
    print(f"`headcast animate` {args.size}x{args.size}, 25 fps, MP4\n")
    print(
        "| speech | input | transcript | code | tree peak RSS MB | main VmHWM MB "
        "| worker VmHWM MB | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        for minutes in args.minutes:
            samples, rate, transcript = joined_speech(minutes * 60)
            text_file = tmp_dir / "speech.txt"
            text_file.write_text(transcript)
            seconds = len(samples) / rate
            for fmt in args.formats:
                write = write_wav if fmt == "wav" else write_mp3
                audio = write(tmp_dir / f"speech.{fmt}", samples, rate)
                label = "16 kHz mono WAV" if fmt == "wav" else "44.1 kHz stereo MP3"
                for text in [None, text_file] if args.transcript else [None]:
                    for src in sources:
                        peak, wall_s = measure(
                            audio,
                            SAMPLES / "astronaut.png",
                            tmp_dir / "out.mp4",
                            src,
                            args.size,
                            text,
                        )
                        print(
                            f"| {seconds:.0f} s | {label} | {'yes' if text else 'no'} | "
                            f"{src or 'installed'} | {peak.tree_rss_mb:.0f} | "
                            f"{peak.main_hwm_mb:.0f} | {peak.workers_hwm_mb:.0f} | {wall_s:.1f} |",
                            flush=True,
                        )


if __name__ == "__main__":
    main()
