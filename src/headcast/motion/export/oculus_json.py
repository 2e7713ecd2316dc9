"""Per-frame weights of the 15 Oculus (Meta) visemes as JSON.

Oculus Lipsync has no file format of its own (it bakes visemes into engine assets), so this
is a plain, self-describing one::

    {
      "format": "oculus-visemes",
      "fps": 25,
      "frameCount": 75,
      "visemes": ["sil", "PP", ..., "U"],
      "frames": [
        [1, 0, 0, ...],          # frame 0 (time 0 s): one weight per viseme, in that order
        ...
      ]
    }

Weights have four decimals and each frame's weights sum to exactly 1 (largest-remainder
rounding). Frame ``i`` shows time ``i / fps``. Multiply by 100 for Unity blendshape weights.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from headcast.motion.oculus_visemes import OCULUS_VISEMES

FORMAT = "oculus-visemes"
DECIMALS = 4


def quantize(rows: np.ndarray, decimals: int = DECIMALS) -> np.ndarray:
    """Rows rounded to ``decimals`` with each row's total kept (largest remainder)."""
    scale = 10.0**decimals
    scaled = np.asarray(rows, dtype=np.float64) * scale
    units = np.floor(scaled + 1e-6)
    remainder = scaled - units
    missing = np.rint(scaled.sum(axis=1)) - units.sum(axis=1)
    order = np.argsort(-remainder, axis=1, kind="stable")
    for row in np.flatnonzero(missing > 0):
        units[row, order[row, : int(missing[row])]] += 1
    return units / scale


def _number(value: float) -> str:
    text = f"{value:.{DECIMALS}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def write(weights: Mapping[str, np.ndarray], fps: float) -> str:
    """JSON of per-frame viseme weights (all 15 names must be present)."""
    rows = quantize(np.stack([np.asarray(weights[name]) for name in OCULUS_VISEMES], axis=1))
    frames = ",\n".join("    [" + ", ".join(_number(v) for v in row) + "]" for row in rows)
    head = [
        f'  "format": "{FORMAT}"',
        f'  "fps": {_number(fps)}',
        f'  "frameCount": {len(rows)}',
        f'  "visemes": {json.dumps(list(OCULUS_VISEMES))}',
        f'  "frames": [\n{frames}\n  ]',
    ]
    return "{\n" + ",\n".join(head) + "\n}\n"


def read(text: str) -> tuple[float, dict[str, np.ndarray]]:
    """(fps, weights by viseme name) of a file written by ``write``."""
    try:
        data = json.loads(text)
        names = [str(name) for name in data["visemes"]]
        frames = np.asarray(data["frames"], dtype=np.float64).reshape(-1, len(names))
        fps = float(data["fps"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"not an Oculus viseme JSON document: {exc}") from None
    if int(data.get("frameCount", len(frames))) != len(frames):
        raise ValueError("frameCount does not match the number of frames")
    return fps, {name: frames[:, i].astype(np.float32) for i, name in enumerate(names)}
