"""How much a face on video moves and blinks, as real speakers are measured: the figures that
compare a render's head motion and blinks with real talking footage.

Read off dlib's 68 landmarks (``quality.judge``) with the pose proxies of
``quality.reenactment``: head roll, yaw and pitch (the nose tip's offset from the eyes'
midpoint, in inter-ocular distances), and the eyes' midpoint's travel, each as a standard
deviation over the video; blinks are runs of the eye aspect ratio under
``BLINK_EAR_SHARE`` of its median, each run's depth its lowest EAR over that median.

    .venv/bin/python -m quality.realism VIDEO [VIDEO ...] [--max-seconds S] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from quality.judge import FaceJudge, FaceMeasure
from quality.reenactment import blinks, head_motion
from quality.video import read_video

# Lower than the reenactment judge's 0.75: real blinks close to ~0.35 of the open EAR, and at
# 0.6 a squint or a glance down is not counted as one.
BLINK_EAR_SHARE = 0.6

FIGURES = (
    ("roll_std_deg", "roll std (°)", "{:.2f}"),
    ("yaw_std", "yaw std (IOD)", "{:.3f}"),
    ("pitch_std", "pitch std (IOD)", "{:.3f}"),
    ("translation_std", "translation std (IOD)", "{:.3f}"),
    ("blinks_per_minute", "blinks / min", "{:.1f}"),
    ("deepest_blink", "deepest blink (EAR/median)", "{:.2f}"),
    ("median_blink_depth", "median blink depth", "{:.2f}"),
)
"""(field, column heading, format) of each figure, in table order."""


@dataclass(frozen=True)
class Realism:
    """Head motion and blink figures of one video (NaN where the video cannot give them)."""

    roll_std_deg: float
    yaw_std: float  # nose offset from the eyes' midpoint, in inter-ocular distances
    pitch_std: float  # the same, vertical
    translation_std: float  # eyes' midpoint, in median inter-ocular distances (x and y)
    blinks_per_minute: float
    blink_count: int
    deepest_blink: float  # lowest EAR of any blink over the video's median EAR
    median_blink_depth: float  # median over blinks of their lowest EAR over the median EAR
    seconds: float
    frames: int
    frames_measured: int  # frames where the judge found a face

    def row(self) -> list[str]:
        """The figures formatted in ``FIGURES`` order."""
        return [_format(fmt, getattr(self, name)) for name, _, fmt in FIGURES]


@dataclass(frozen=True)
class MeasuredVideo:
    """A video's frame rate and judge measures (and frames, when they were kept)."""

    path: Path
    fps: float
    measures: list[FaceMeasure | None]
    frames: list[np.ndarray] | None  # (H, W, 3) uint8 RGB


def realism(measures: Sequence[FaceMeasure | None], fps: float) -> Realism:
    """The realism figures of a measured video at ``fps``."""
    motion = head_motion(measures)
    found = blinks(measures, fps, ear_share=BLINK_EAR_SHARE)
    return Realism(
        roll_std_deg=motion.roll_deg,
        yaw_std=motion.yaw,
        pitch_std=motion.pitch,
        translation_std=motion.translation,
        blinks_per_minute=found.per_minute,
        blink_count=found.count,
        deepest_blink=found.deepest,
        median_blink_depth=found.depth,
        seconds=len(measures) / fps if fps > 0 else math.nan,
        frames=len(measures),
        frames_measured=sum(m is not None for m in measures),
    )


def measure_video(
    path: str | PathLike[str],
    judge: FaceJudge | None = None,
    max_seconds: float | None = None,
    keep_frames: bool = False,
) -> MeasuredVideo:
    """Decode ``path`` (its first ``max_seconds``) and track its face with the judge."""
    judge = judge or FaceJudge()
    video = read_video(path, lazy=True)
    frames = video.frames
    if max_seconds is not None and video.fps > 0:
        frames = itertools.islice(frames, round(max_seconds * video.fps))
    kept: list[np.ndarray] | None = [] if keep_frames else None
    measures: list[FaceMeasure | None] = []
    for frame, measure in judge.follow(frames):
        measures.append(measure)
        if kept is not None:
            kept.append(frame)
    return MeasuredVideo(Path(path), video.fps, measures, kept)


def measure_file(
    path: str | PathLike[str], judge: FaceJudge | None = None, max_seconds: float | None = None
) -> Realism:
    """The realism figures of a video file."""
    measured = measure_video(path, judge, max_seconds)
    return realism(measured.measures, measured.fps)


def markdown_table(rows: Sequence[tuple[str, Realism]]) -> str:
    """A markdown table: one row per named video, the figures, seconds and frames measured."""
    head = ["video", *(heading for _, heading, _ in FIGURES), "blinks", "s", "frames with a face"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, figures in rows:
        cells = [
            name,
            *figures.row(),
            str(figures.blink_count),
            f"{figures.seconds:.1f}",
            f"{figures.frames_measured}/{figures.frames}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _format(fmt: str, value: float) -> str:
    return "–" if math.isnan(value) else fmt.format(value)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("videos", nargs="+", type=Path)
    parser.add_argument("--max-seconds", type=float, default=None, help="measure only the start")
    parser.add_argument("--json", action="store_true", help="one JSON object per video")
    args = parser.parse_args(argv)
    judge = FaceJudge()
    rows = []
    for path in args.videos:
        figures = measure_file(path, judge, args.max_seconds)
        if args.json:
            print(json.dumps({"video": str(path), **asdict(figures)}))
        rows.append((path.name, figures))
    if not args.json:
        print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
