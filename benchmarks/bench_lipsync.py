"""Lip-sync tracks for animators (`headcast lipsync`): accuracy, lip closure and speed.

Over the five LibriVox recordings, for phones from audio alone (the default recognizer and
the fast one) and from forced alignment with the transcript:

(a) frame accuracy of mouth shapes (A–F, G, H, X) and of the dominant Oculus viseme, at
    100 fps (Rhubarb's own centisecond grid) and at 25 fps (video). The ground truth is the
    same mapping applied to the reference alignment shipped with each recording, so the
    figure measures what the phones get right where it shows on the mouth: confusions inside
    one shape (S/Z, T/D, M/B/P) cost nothing, timing errors and visible confusions do;
(b) bilabial closure: share of the reference /p b m/ phones during which `build_motion`'s
    jaw_open is 0 on some 25 fps frame inside the phone (the nearest frame for phones
    shorter than a frame);
(c) real-time factor of phones + motion + mouth cues + writing all seven formats (warm:
    decoders built before timing), best of ``--repeat`` runs.

Run: `.venv/bin/python benchmarks/bench_lipsync.py`.

``--hard``: the hard-audio table instead (see ``hard_audio_table``): the same speech through a
telephone channel, under real noise and music, two speakers joined, transcripts that do not
fit, and synthesized voices whose phone times are known exactly.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from headcast.audio import load_audio  # noqa: E402
from headcast.motion import build_motion  # noqa: E402
from headcast.motion.export import FORMATS, LipSyncResult, export  # noqa: E402
from headcast.motion.mouth_cues import mouth_cues, shapes_per_frame  # noqa: E402
from headcast.motion.oculus_visemes import dominant_visemes, oculus_viseme_weights  # noqa: E402
from headcast.phones import phones_from_audio  # noqa: E402
from tests.conftest import CLIPS, clip_text, clip_wav, reference_track  # noqa: E402

MODES = {
    "audio alone": {"text": False, "fast": False},
    "audio alone, --fast": {"text": False, "fast": True},
    "with transcript": {"text": True, "fast": False},
}
VIDEO_FPS = 25.0
TARGETS = {"audio alone": 0.70, "with transcript": 0.90}


def agreement(truth: list[str], guess: list[str]) -> tuple[int, int]:
    return sum(a == b for a, b in zip(truth, guess, strict=True)), len(truth)


def closure(reference, jaw: np.ndarray, fps: float) -> tuple[int, int]:
    closed = total = 0
    for phone in reference.phones:
        if phone.label not in ("P", "B", "M"):
            continue
        first = math.ceil(phone.start_s * fps - 1e-9)
        stop = min(math.ceil(phone.end_s * fps - 1e-9), len(jaw))
        frames = list(range(first, stop))
        if not frames:
            frames = [min(round(0.5 * (phone.start_s + phone.end_s) * fps), len(jaw) - 1)]
        closed += bool(np.any(jaw[frames] == 0.0))
        total += 1
    return closed, total


def run_clip(clip: str, mode: dict, repeat: int) -> dict:
    audio = load_audio(clip_wav(clip))
    text = clip_text(clip) if mode["text"] else None
    best = (math.inf, 0.0, 0.0, 0.0)
    for _ in range(repeat):
        t0 = time.perf_counter()
        track = phones_from_audio(audio, text, fast=mode["fast"])
        t1 = time.perf_counter()
        motion = build_motion(track, audio, VIDEO_FPS)
        t2 = time.perf_counter()
        cues = tuple(mouth_cues(track))
        result = LipSyncResult(track, cues, motion, VIDEO_FPS, clip_wav(clip).name)
        for name in FORMATS:
            export(result, name)
        t3 = time.perf_counter()
        best = min(best, (t3 - t0, t1 - t0, t2 - t1, t3 - t2))

    reference = reference_track(clip, audio.duration_s)
    truth_cues = mouth_cues(reference)
    out: dict = {"seconds": best[0], "stages": best[1:], "duration": audio.duration_s}
    for fps in (100.0, VIDEO_FPS):
        n = max(round(audio.duration_s * fps), 1)
        out[f"shape{fps:g}"] = agreement(
            shapes_per_frame(truth_cues, fps, n), shapes_per_frame(cues, fps, n)
        )
        out[f"viseme{fps:g}"] = agreement(
            dominant_visemes(oculus_viseme_weights(reference, fps, n)),
            dominant_visemes(oculus_viseme_weights(track, fps, n)),
        )
    out["closure"] = closure(reference, motion.controls["jaw_open"], VIDEO_FPS)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="timed runs per clip (best kept)")
    parser.add_argument("--hard", action="store_true", help="the hard-audio table instead")
    parser.add_argument(
        "--noise-dir",
        type=Path,
        default=None,
        help="folder of the noise and music recordings (default: livekit-agents' resources)",
    )
    args = parser.parse_args()
    if args.hard:
        from bench_hard_audio import hard_audio_table

        hard_audio_table(args.noise_dir)
        return

    # Warm up: build every decoder once so that the timings are of the analysis alone.
    warm = load_audio(clip_wav(CLIPS[0]))
    for mode in MODES.values():
        phones_from_audio(warm, clip_text(CLIPS[0]) if mode["text"] else None, fast=mode["fast"])

    rows = []
    for label, mode in MODES.items():
        results = [run_clip(clip, mode, args.repeat) for clip in CLIPS]

        def share(key: str, results=results) -> float:
            return sum(r[key][0] for r in results) / sum(r[key][1] for r in results)

        duration = sum(r["duration"] for r in results)
        rtf = sum(r["seconds"] for r in results) / duration
        stages = [sum(r["stages"][k] for r in results) / duration for k in range(3)]
        closed = sum(r["closure"][0] for r in results)
        total = sum(r["closure"][1] for r in results)
        rows.append(
            (label, share("shape100"), share("shape25"), share("viseme100"), share("viseme25"),
             closed, total, rtf, stages)
        )  # fmt: skip

    audio_s = sum(load_audio(clip_wav(c)).duration_s for c in CLIPS)
    print(
        f"{len(CLIPS)} LibriVox clips, {audio_s:.1f} s of speech; {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}\n"
    )
    print(
        "| phones from | shapes @100 fps | shapes @25 fps | visemes @100 fps | visemes @25 fps "
        "| bilabial closure | RTF (phones + motion + cues & 7 exports) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, s100, s25, v100, v25, closed, total, rtf, stages in rows:
        print(
            f"| {label} | {s100:.1%} | {s25:.1%} | {v100:.1%} | {v25:.1%} "
            f"| {closed / total:.0%} of {total} "
            f"| {rtf:.3f} ({stages[0]:.3f} + {stages[1]:.3f} + {stages[2]:.3f}) |"
        )
    print(
        "\nTargets: shapes ≥ 70 % from audio alone, ≥ 90 % with the transcript; closure ≥ 95 % "
        "with the transcript; RTF ≤ 0.1."
    )
    synthesized_ground_truth()


def synthesized_ground_truth() -> None:
    """Against exact timings: speech from the built-in synthesizer, whose phone events are
    the truth, analysed as if it were a recording (aligned with its text, or recognized)."""
    from bench_tts import SENTENCES

    from headcast.audio import Audio, resample
    from headcast.speech import synthesize

    sentences = SENTENCES["en-us"]
    totals = {"with transcript": [0, 0, 0, 0], "audio alone": [0, 0, 0, 0]}
    for text in sentences:
        speech = synthesize(text, "en-us")
        samples = resample(speech.audio.samples, speech.audio.sample_rate, 16000)
        # A faint noise floor: synthetic pauses are exact zeros, which no microphone records.
        samples = samples + np.random.default_rng(0).normal(0, 10 ** (-70 / 20), len(samples))
        audio = Audio(samples.astype(np.float32), 16000)
        truth = speech.phones
        n = max(round(audio.duration_s * 100), 1)
        truth_shapes = shapes_per_frame(mouth_cues(truth), 100.0, n)
        for label, transcript in (("with transcript", text), ("audio alone", None)):
            track = phones_from_audio(audio, transcript)
            ok, count = agreement(truth_shapes, shapes_per_frame(mouth_cues(track), 100.0, n))
            motion = build_motion(track, audio, VIDEO_FPS)
            closed, total = closure(truth, motion.controls["jaw_open"], VIDEO_FPS)
            acc = totals[label]
            acc[0] += ok
            acc[1] += count
            acc[2] += closed
            acc[3] += total
    print(
        f"\n{len(sentences)} synthesized English sentences, truth = the synthesizer's phone events\n"
    )
    print("| phones from | shapes @100 fps | bilabial closure |")
    print("|---|---|---|")
    for label, (ok, count, closed, total) in totals.items():
        print(f"| {label} | {ok / count:.1%} | {closed / total:.0%} of {total} |")


if __name__ == "__main__":
    main()
