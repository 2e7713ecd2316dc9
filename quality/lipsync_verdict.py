"""The judge's lip-sync figures for one video, as JSON: ``python -m quality.lipsync_verdict
VIDEO [--phones-of SAMPLE]``.

Every video gets the share of frames with a face, the A/V offset (frames the mouth lags the
speech; positive = video late) and the correlation of mouth aperture with the speech envelope
at that offset. When the speech is one of the test recordings with a reference alignment
(``tests/media/librivox-SAMPLE.phone.json``), the recording is found in the video's audio
(it may start after idle frames) and its phones, moved there, give the lip closure on /p b m/,
the rest in silences and the aperture/openness correlation, as the core's tests compute them.
For any other process (an integration's own environment) this runs in the core's Python.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from scipy.signal import correlate

from quality import lipsync
from quality.judge import FaceJudge, FaceMeasure
from quality.lipsync import PhoneSpan, normalise_label
from quality.video import JUDGE_SAMPLE_RATE_HZ, read_audio, read_video

MEDIA = Path(__file__).resolve().parents[1] / "tests" / "media"
MAX_LAG_FRAMES = 5
# Below this normalised cross-correlation the recording is not in the video's audio.
MIN_MATCH = 0.5


@dataclass(frozen=True)
class Reference:
    """A recording with its reference phones (times from the recording's start)."""

    name: str
    phones: list[PhoneSpan]
    audio: np.ndarray  # 16 kHz mono float32


@dataclass(frozen=True)
class Verdict:
    video: str
    frames: int
    fps: float
    face_share: float
    av_offset_frames: int
    speech_aperture_correlation: float  # at av_offset_frames
    aperture_min: float
    aperture_max: float
    # With reference phones only:
    phones_of: str | None = None
    speech_start_s: float | None = None  # where the recording starts in the video (< 0: before)
    bilabial_closure: float | None = None
    silence_rest: float | None = None
    openness_correlation: float | None = None


def load_reference(sample: str) -> Reference:
    """``0870``, ``librivox-0870`` or a path to a ``.phone.json`` with its ``.wav`` beside it."""
    path = Path(sample)
    if not path.name.endswith(".phone.json"):
        stem = sample if sample.startswith("librivox-") else f"librivox-{sample}"
        path = MEDIA / f"{stem}.phone.json"
    if not path.is_file():
        raise FileNotFoundError(f"no reference alignment {path}")
    wav = path.with_name(path.name.removesuffix(".phone.json") + ".wav")
    data = json.loads(path.read_text())
    phones = []
    for word in data["w"]:
        for phone in word["w"]:
            label = phone["t"]
            label = "SIL" if label.startswith("+") else normalise_label(label)
            start = float(phone["b"])
            phones.append(PhoneSpan(label, start, start + float(phone["d"])))
    return Reference(path.name.removesuffix(".phone.json"), phones, read_audio(wav))


def speech_start_s(audio: np.ndarray, recording: np.ndarray) -> float:
    """Where ``recording`` starts in ``audio`` (both 16 kHz), by cross-correlation."""
    if len(audio) == 0 or len(recording) == 0:
        raise ValueError("no audio to find the recording in")
    scores = correlate(audio, recording, mode="full", method="fft")
    best = int(np.argmax(scores))
    lag = best - (len(recording) - 1)  # audio[n] ≈ recording[n - lag]
    lo, hi = max(lag, 0), min(lag + len(recording), len(audio))
    overlap_audio, overlap_rec = audio[lo:hi], recording[lo - lag : hi - lag]
    norm = float(np.linalg.norm(overlap_audio) * np.linalg.norm(overlap_rec))
    match = float(scores[best]) / norm if norm > 0 else 0.0
    if match < MIN_MATCH:
        raise ValueError(f"the recording is not in the video's audio (match {match:.2f})")
    return lag / JUDGE_SAMPLE_RATE_HZ


@dataclass(frozen=True)
class JudgedRender:
    """A video as the judge read it: its per-frame readings and its audio."""

    path: Path
    fps: float
    audio: np.ndarray  # 16 kHz mono, sample 0 at frame 0
    measures: list[FaceMeasure | None]


def judge_render(path: Path, judge: FaceJudge) -> JudgedRender:
    video = read_video(path, lazy=True)
    return JudgedRender(path, video.fps, video.audio, judge.track(video.frames))


def verdict(judged: JudgedRender, reference: Reference | None = None) -> Verdict:
    """The figures for a judged video (those of its reference phones too, when given)."""
    measures, fps = judged.measures, judged.fps
    apertures = lipsync.apertures_of(measures)
    found = apertures[np.isfinite(apertures)]
    offset = lipsync.av_offset_frames(apertures, judged.audio, fps, MAX_LAG_FRAMES)
    curve = lipsync.av_sync_curve(apertures, judged.audio, fps, MAX_LAG_FRAMES)
    result = Verdict(
        video=str(judged.path),
        frames=len(measures),
        fps=fps,
        face_share=float(np.mean([m is not None for m in measures])) if measures else 0.0,
        av_offset_frames=offset,
        speech_aperture_correlation=curve[offset],
        aperture_min=float(found.min()) if len(found) else math.nan,
        aperture_max=float(found.max()) if len(found) else math.nan,
    )
    if reference is None:
        return result
    start_s = speech_start_s(judged.audio, reference.audio)
    phones = [PhoneSpan(p.label, p.start_s + start_s, p.end_s + start_s) for p in reference.phones]
    expected = lipsync.expected_openness(phones, fps, len(apertures))
    return replace(
        result,
        phones_of=reference.name,
        speech_start_s=round(start_s, 4),
        bilabial_closure=lipsync.bilabial_closure(measures, phones, fps),
        silence_rest=lipsync.silence_rest(measures, phones, fps),
        openness_correlation=lipsync.openness_correlation(apertures, expected),
    )


def as_json(result: Verdict) -> str:
    """Rounded figures; NaN (nothing to judge) as null, the figures left out when unknown."""
    figures = {}
    for name, value in asdict(result).items():
        if value is None:
            continue
        if isinstance(value, float):
            value = None if math.isnan(value) else round(value, 4)
        figures[name] = value
    return json.dumps(figures, indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m quality.lipsync_verdict",
        description="Print the lip-sync judge's figures for a video as JSON.",
    )
    parser.add_argument("video", type=Path)
    parser.add_argument(
        "--phones-of",
        "--text-of",
        dest="phones_of",
        metavar="SAMPLE",
        help="the test recording the video speaks (0870, librivox-0870 or a .phone.json): "
        "adds the figures its reference phones allow",
    )
    args = parser.parse_args(argv)
    try:
        reference = load_reference(args.phones_of) if args.phones_of else None
        result = verdict(judge_render(args.video, FaceJudge()), reference)
    except (OSError, ValueError) as exc:
        print(f"lipsync_verdict: {exc}", file=sys.stderr)
        return 1
    print(as_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
