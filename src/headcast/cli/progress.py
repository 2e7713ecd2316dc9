"""Work on frames as the terminal shows it: a progress bar, then a one-line summary."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcast.animate import AnimateResult


@contextmanager
def frame_progress(quiet: bool, what: str = "rendering") -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar on stderr, closed on exit; ``what``
    is its label.

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
            bar = tqdm(total=total, unit="frame", desc=what, leave=False, file=sys.stderr)
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
