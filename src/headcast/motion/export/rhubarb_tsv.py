"""Rhubarb Lip Sync's TSV: one ``start<TAB>shape`` line per cue, then ``end<TAB>rest``.

Times are seconds with two decimals. The last line is no cue of its own: it marks the end
of the recording with the resting shape (X, or A for a character without X), exactly as
Rhubarb writes it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from headcast.motion.mouth_cues import SHAPES, MouthCue


def write(cues: Sequence[MouthCue], *, rest_shape: str = "X") -> str:
    """The TSV text of ``cues`` (gapless, in time order)."""
    lines = [f"{cue.start_s:.2f}\t{cue.shape}" for cue in cues]
    lines.append(f"{cues[-1].end_s if cues else 0.0:.2f}\t{rest_shape}")
    return "\n".join(lines) + "\n"


def read(text: str) -> list[MouthCue]:
    """The cues of a Rhubarb TSV file; ValueError names the first bad line."""
    rows: list[tuple[float, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.strip().split("\t")
        if len(fields) != 2 or fields[1] not in SHAPES:
            raise ValueError(f"line {number}: expected 'seconds<TAB>shape', got {line!r}")
        try:
            time_s = float(fields[0])
        except ValueError:
            raise ValueError(f"line {number}: {fields[0]!r} is not a time in seconds") from None
        if rows and time_s < rows[-1][0]:
            raise ValueError(f"line {number}: times go backwards")
        rows.append((time_s, fields[1]))
    return [
        MouthCue(start, end, shape)
        for (start, shape), (end, _) in itertools.pairwise(rows)
        if end > start
    ]
