"""What the commands that render a video share: their options, progress bar and summary."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcast.animate import AnimateResult


def add_render_options(p: argparse.ArgumentParser) -> None:
    """--fps, --size, --engine, --no-head-motion, --correct-gaze, --seed and --quiet."""
    p.add_argument("--fps", type=float, default=25.0, help="frames per second (default 25)")
    p.add_argument(
        "--size", type=int, default=512, help="output width and height in pixels (default 512)"
    )
    p.add_argument(
        "--engine", default="warp", help="rendering engine (default: warp, the built-in CPU engine)"
    )
    p.add_argument("--no-head-motion", action="store_true", help="keep the head still")
    p.add_argument(
        "--correct-gaze",
        action="store_true",
        help="re-aim the eyes at the camera when the photo looks away",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for blinks and head motion")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


@contextmanager
def frame_progress(quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar on stderr, closed on exit.

    The bar appears with the first frame, once the number of frames is known: an empty
    "0 frame" bar would stand there while the photo and the speech are analysed.
    """
    from tqdm import tqdm

    bar: tqdm | None = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if quiet:
            return
        if bar is None:
            bar = tqdm(total=total, unit="frame", desc="rendering", leave=False, file=sys.stderr)
        elif bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        if bar is not None:
            bar.close()


def print_summary(result: AnimateResult) -> None:
    total = result.wall_seconds or sum(result.stage_seconds.values())
    speed = result.audio_duration_s / total if total > 0 else float("inf")
    print(
        f"wrote {result.output} ({result.n_frames} frames, {result.audio_duration_s:.2f} s, "
        f"{speed:.1f}x real time)",
        file=sys.stderr,
    )
