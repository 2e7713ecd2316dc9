"""Lip-sync and identity quality of rendered videos, judged by an independent model (dlib).

For every portrait × LibriVox recording: render with the transcript (head motion as chosen,
off by default so that the lips are judged on a still head), decode the video, and measure with dlib's 68-point landmarks and face embedding (see
ARCHITECTURE.md, "How quality is measured"). Run: `.venv/bin/python benchmarks/bench_quality.py
[photo ...]` (default: the four bundled portraits).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quality import lipsync  # noqa: E402
from quality.judge import FaceJudge  # noqa: E402
from quality.video import read_video  # noqa: E402
from tests.conftest import CLIPS, MEDIA, SAMPLES, clip_text, clip_wav, reference_phones  # noqa: E402

PORTRAITS = [
    SAMPLES / "astronaut.png",
    MEDIA / "obama.jpg",
    MEDIA / "biden.jpg",
    MEDIA / "obama2.jpg",
]
IDENTITY_SAMPLE_EVERY = 5  # frames between identity checks (an embedding costs ~80 ms)
BLINK_EAR_SHARE = 0.75


def judge_clip(judge: FaceJudge, video_path: Path, clip: str, ref_embedding: np.ndarray) -> dict:
    video = read_video(video_path)
    measures = judge.track(video.frames)
    phones = reference_phones(clip)
    apertures = lipsync.apertures_of(measures)
    expected = lipsync.expected_openness(phones, video.fps, len(apertures))
    ears = np.array([m.ear if m is not None else np.nan for m in measures])
    # A blink: the eyes' aspect ratio well below its usual value for this clip.
    blinking = ears < BLINK_EAR_SHARE * np.nanmedian(ears)
    blinks = int(np.sum(np.diff(blinking.astype(int)) == 1))
    sampled = [
        (i, judge.identity_distance(ref_embedding, judge.embedding(video.frames[i], measures[i])))
        for i in range(0, len(video.frames), IDENTITY_SAMPLE_EVERY)
        if measures[i] is not None
    ]
    distances = [d for _, d in sampled]
    open_eyes = [d for i, d in sampled if not blinking[i]]
    bilabials = [p for p in phones if p.label in lipsync.BILABIALS]
    return {
        "bilabial": lipsync.bilabial_closure(measures, phones, video.fps),
        "n_bilabial": len(bilabials),
        "rest": lipsync.silence_rest(measures, phones, video.fps),  # NaN when the clip has no pause
        "corr": lipsync.openness_correlation(apertures, expected),
        "offset": lipsync.av_offset_frames(apertures, video.audio, video.fps),
        "identity_max": max(distances) if distances else float("nan"),
        "identity_max_open": max(open_eyes) if open_eyes else float("nan"),
        "identity": distances,
        "blinks": blinks,
        "faces_missing": sum(m is None for m in measures),
    }


def main() -> None:
    from headcast.animate import animate
    from headcast.face import load_image

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument(
        "--head-motion",
        type=float,
        default=0.0,
        help="head-motion intensity of the renders, 0 (still, the default) to 1",
    )
    parser.add_argument(
        "portraits",
        nargs="*",
        type=Path,
        default=PORTRAITS,
        help="photos or enrolled avatars' folders to judge (default: the four bundled portraits)",
    )
    args = parser.parse_args()
    judge = FaceJudge()
    print(
        "| portrait | bilabial closure | rest in silence | openness corr | A/V offset (frames) "
        "| identity median | identity max (eyes open) | identity max (all) | blinks seen (EAR) "
        "| frames without face |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for portrait in args.portraits:
            # An enrolled avatar (its folder) is judged against its representative frame.
            enrolled = (portrait / "portrait.png") if portrait.is_dir() else None
            reference = load_image(enrolled or portrait)
            ref_embedding = judge.embedding(reference, judge.measure(reference))
            rows = []
            for clip in CLIPS:
                out = Path(tmp) / f"{portrait.stem}-{clip}.mp4"
                animate(
                    portrait,
                    clip_wav(clip),
                    out,
                    text=clip_text(clip),
                    size=args.size,
                    head_motion=args.head_motion,
                    check_reference=False,
                )
                rows.append(judge_clip(judge, out, clip, ref_embedding))
            n_bil = sum(r["n_bilabial"] for r in rows)
            bilabial = sum(r["bilabial"] * r["n_bilabial"] for r in rows) / max(n_bil, 1)
            print(
                f"| {portrait.name} | {bilabial:.0%} of {n_bil} | {np.nanmean([r['rest'] for r in rows]):.0%} | "
                f"{np.mean([r['corr'] for r in rows]):.2f} | "
                f"{', '.join(str(r['offset']) for r in rows)} | "
                f"{np.median([d for r in rows for d in r['identity']]):.3f} | "
                f"{max(r['identity_max_open'] for r in rows):.3f} | "
                f"{max(r['identity_max'] for r in rows):.3f} | {sum(r['blinks'] for r in rows)} | "
                f"{sum(r['faces_missing'] for r in rows)} |"
            )


if __name__ == "__main__":
    main()
