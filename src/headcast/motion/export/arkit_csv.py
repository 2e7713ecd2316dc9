"""ARKit blendshapes as a Live Link Face CSV (the app's recorded takes; Unreal imports them).

Columns: ``Timecode``, ``BlendShapeCount`` (61: 52 blendshapes and 9 rotations), the 52
blendshapes in PascalCase in the order Live Link Face writes them (note JawRight before
JawLeft and MouthRight before MouthLeft, unlike ARKit's list), then ``HeadYaw``,
``HeadPitch``, ``HeadRoll`` and the yaw, pitch and roll of each eye, in radians.

``Timecode`` is ``HH:MM:SS:FF.fff``: frame ``FF`` of the second at the export frame rate,
with a sub-frame fraction (always ``.000`` here: one row per frame, starting at 00:00:00:00).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping

import numpy as np

from headcast.motion.arkit import ARKIT_BLENDSHAPES, ROTATION_NAMES

_LIVE_LINK_ORDER = (
    *ARKIT_BLENDSHAPES[:14],
    "jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker",
    "mouthRight", "mouthLeft",
    *ARKIT_BLENDSHAPES[23:],
)  # fmt: skip
BLENDSHAPE_COLUMNS: tuple[str, ...] = tuple(n[0].upper() + n[1:] for n in _LIVE_LINK_ORDER)
"""The 52 blendshape column names, PascalCase, in Live Link Face's order."""

COLUMNS: tuple[str, ...] = ("Timecode", "BlendShapeCount", *BLENDSHAPE_COLUMNS, *ROTATION_NAMES)
DECIMALS = 6


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF.fff`` of a 0-based frame index."""
    seconds = math.floor(frame / fps + 1e-9)
    sub = round((frame - seconds * fps), 3)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    whole = math.floor(sub + 1e-9)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{whole:02d}.{round((sub - whole) * 1000):03d}"


def parse_timecode(text: str, fps: float) -> float:
    """Seconds from the start of the day of a ``HH:MM:SS:FF[.fff]`` timecode."""
    hours, minutes, seconds, frames = text.strip().split(":")
    return int(hours) * 3600 + int(minutes) * 60 + int(seconds) + float(frames) / fps


def write(
    blendshapes: Mapping[str, np.ndarray],
    fps: float,
    rotations: Mapping[str, np.ndarray] | None = None,
) -> str:
    """CSV of per-frame ARKit coefficients (camelCase names) and rotations (radians)."""
    camel = {n[0].upper() + n[1:]: n for n in ARKIT_BLENDSHAPES}
    n_frames = len(next(iter(blendshapes.values()))) if blendshapes else 0
    zero = np.zeros(n_frames)
    columns = [np.asarray(blendshapes.get(camel[c], zero), np.float64) for c in BLENDSHAPE_COLUMNS]
    columns += [np.asarray((rotations or {}).get(n, zero), np.float64) for n in ROTATION_NAMES]
    table = np.round(np.stack(columns, axis=1), DECIMALS) if n_frames else np.zeros((0, 61))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = str(len(BLENDSHAPE_COLUMNS) + len(ROTATION_NAMES))
    for i, row in enumerate(table):
        writer.writerow([timecode(i, fps), count, *(f"{v:.{DECIMALS}f}" for v in row)])
    return out.getvalue()


def read(text: str, fps: float) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(times from the first row in s, blendshapes by camelCase name, rotations by column)."""
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0][:2] != ["Timecode", "BlendShapeCount"]:
        raise ValueError("not a Live Link Face CSV: it must start with Timecode,BlendShapeCount")
    header = rows[0]
    body = [row for row in rows[1:] if row]
    if any(len(row) != len(header) for row in body):
        raise ValueError("a row has a different number of columns than the header")
    try:
        times = np.array([parse_timecode(row[0], fps) for row in body])
        values = np.array([[float(v) for v in row[2:]] for row in body]).reshape(len(body), -1)
    except ValueError as exc:
        raise ValueError(f"bad value in a Live Link Face CSV: {exc}") from None
    times = times - times[0] if len(times) else times
    blendshapes: dict[str, np.ndarray] = {}
    rotations: dict[str, np.ndarray] = {}
    for i, name in enumerate(header[2:]):
        if name in ROTATION_NAMES:
            rotations[name] = values[:, i].astype(np.float32)
        else:
            blendshapes[name[0].lower() + name[1:]] = values[:, i].astype(np.float32)
    return times, blendshapes, rotations
