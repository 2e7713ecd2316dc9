"""Moho switch data (``.dat``), as Rhubarb writes it for Moho and OpenToonz.

The first line is ``MohoSwitch1``; then one ``frame shape`` line wherever the shape changes,
frame numbers 1-based at the chosen frame rate (frame ``k`` shows time ``(k - 1) / fps``),
and a last line that puts the resting shape on the first frame after the audio. With
``preston_blair`` the shapes carry Preston Blair's names (MBP, etc, E, AI, O, U, FV, L,
rest), which OpenToonz requires.

Unlike Rhubarb's DAT export, a lip closure shorter than a frame is not dropped: it takes the
frame nearest its middle (see ``mouth_cues.shapes_per_frame``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from headcast.motion.mouth_cues import PRESTON_BLAIR_NAMES, SHAPES, MouthCue, shapes_per_frame

HEADER = "MohoSwitch1"
_FROM_PRESTON_BLAIR = {name.lower(): shape for shape, name in PRESTON_BLAIR_NAMES.items()}


def keyframes(
    cues: Sequence[MouthCue], fps: float, *, rest_shape: str = "X"
) -> list[tuple[int, str]]:
    """(1-based frame, shape) at every change, then the resting shape after the audio."""
    end_s = cues[-1].end_s if cues else 0.0
    n_frames = max(math.ceil(end_s * fps - 1e-9), 1)
    out: list[tuple[int, str]] = []
    for index, shape in enumerate(shapes_per_frame(cues, fps, n_frames)):
        if not out or out[-1][1] != shape:
            out.append((index + 1, shape))
    out.append((n_frames + 1, rest_shape))
    return out


def write(
    cues: Sequence[MouthCue], fps: float, *, rest_shape: str = "X", preston_blair: bool = False
) -> str:
    if not fps > 0:
        raise ValueError(f"the frame rate must be positive, got {fps}")
    lines = [HEADER]
    for frame, shape in keyframes(cues, fps, rest_shape=rest_shape):
        lines.append(f"{frame} {PRESTON_BLAIR_NAMES[shape] if preston_blair else shape}")
    return "\n".join(lines) + "\n"


def read(text: str, fps: float, *, preston_blair: bool | None = None) -> list[MouthCue]:
    """Cues of a Moho switch file written at ``fps``.

    Shape names are letters or Preston Blair's names; ``None`` tells them apart by the names
    used (Preston Blair's "E" is the letter C, so a file of nothing but "E" reads as letters).
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != HEADER:
        raise ValueError(f"not a Moho switch file: the first line must be {HEADER!r}")
    rows: list[tuple[int, str]] = []
    for number, line in enumerate(lines[1:], 2):
        fields = line.split()
        if len(fields) != 2 or not fields[0].isdigit() or int(fields[0]) < 1:
            raise ValueError(f"line {number}: expected 'frame shape', got {line!r}")
        if rows and int(fields[0]) <= rows[-1][0]:
            raise ValueError(f"line {number}: frame numbers must increase")
        rows.append((int(fields[0]), fields[1]))
    names = {name for _, name in rows}
    if preston_blair is None:
        preston_blair = bool(names) and not names <= set(SHAPES)
    table = _FROM_PRESTON_BLAIR if preston_blair else {s.lower(): s for s in SHAPES}
    unknown = sorted(n for n in names if n.lower() not in table)
    if unknown:
        raise ValueError(f"unknown mouth shape {unknown[0]!r}")
    keys = [(frame, table[name.lower()]) for frame, name in rows]
    return [
        MouthCue((frame - 1) / fps, (next_frame - 1) / fps, shape)
        for (frame, shape), (next_frame, _) in itertools.pairwise(keys)
    ]
