"""The progress bar and closing summary of the commands that render a video."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcast.animate import AnimateResult


@contextmanager
def frame_progress(quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar on stderr, closed on exit."""
    from tqdm import tqdm

    bar = tqdm(total=0, unit="frame", desc="rendering", disable=quiet, leave=False, file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.reset(total=total)
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()


def print_summary(result: AnimateResult) -> None:
    total = sum(result.stage_seconds.values())
    speed = result.audio_duration_s / total if total > 0 else float("inf")
    print(
        f"wrote {result.output} ({result.n_frames} frames, {result.audio_duration_s:.2f} s, "
        f"{speed:.1f}x real time)",
        file=sys.stderr,
    )
