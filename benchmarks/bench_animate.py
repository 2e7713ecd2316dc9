"""End-to-end speed of `headcast animate`: a 30 s clip at 512², 25 fps, MP4.

Times each stage separately (audio decode, face analysis, renderer setup, motion, render,
encode) and reports the CPU time, frames per second, the real-time factor and peak memory.
Stages overlap: the face and the renderer setup run beside the motion (phones and prosody
included), encoding beside rendering; "motion" is the time the renderer waited for it. Run:
`make bench`.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
MEDIA = ROOT / "tests" / "media"


def _read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), np.int16), w.getframerate()


def thirty_second_speech(path: Path, seconds: float = 30.0) -> tuple[Path, str]:
    """Whole real recordings joined by short pauses until ``seconds`` is reached, with their text.

    Recordings are never cut, so the transcript always matches the audio.
    """
    sources = [(SAMPLES / "speech.wav", (SAMPLES / "speech.txt").read_text())]
    sources += [
        (MEDIA / f"librivox-{c}.wav", (MEDIA / f"librivox-{c}.txt").read_text())
        for c in ("0930", "0880", "0890", "0920", "0870")
    ]
    parts, texts, total, rate, k = [], [], 0, 16000, 0
    while total < seconds * rate:
        samples, rate = _read_wav(sources[k % len(sources)][0])
        if parts:
            parts.append(np.zeros(int(0.4 * rate), np.int16))
        parts.append(samples)
        texts.append(sources[k % len(sources)][1].strip())
        total = sum(len(p) for p in parts)
        k += 1
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.concatenate(parts).tobytes())
    return path, " ".join(texts)


def _cpu_s() -> float:
    """CPU seconds of this process, all threads: the cost that other work on the machine sees."""
    times = os.times()
    return times.user + times.system


def main() -> None:
    from headcast.animate import animate

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per portrait; the best is kept"
    )
    args = parser.parse_args()

    portraits = [SAMPLES / "astronaut.png", MEDIA / "obama.jpg"]
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(
        f"clip: {args.seconds:.0f} s speech, {args.size}x{args.size}, 25 fps, MP4 (H.264 + AAC)\n"
    )
    header = "| portrait | transcript | audio s | face s | renderer setup s | motion s | render s | encode s | total s | CPU s | fps | × real time |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        wav, transcript = thirty_second_speech(Path(tmp) / "speech30.wav", args.seconds)
        for portrait in portraits:
            for text in (transcript, None):
                best = None
                for _ in range(args.repeats):
                    t0, cpu0 = time.perf_counter(), _cpu_s()
                    result = animate(
                        portrait, wav, Path(tmp) / "out.mp4", text=text, size=args.size, fps=25.0
                    )
                    wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu0
                    if best is None or wall < best[0]:
                        best = (wall, cpu, result)
                wall, cpu, result = best
                st = result.stage_seconds
                print(
                    f"| {portrait.name} | {'yes' if text else 'no'} | {st['audio']:.2f} | {st['face']:.2f} | "
                    f"{st['render_setup']:.2f} | {st['motion']:.2f} | "
                    f"{st['render']:.2f} | {st['encode']:.2f} | {wall:.2f} | {cpu:.2f} | "
                    f"{result.n_frames / wall:.0f} | {result.audio_duration_s / wall:.1f} |"
                )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
