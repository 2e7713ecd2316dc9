"""ARKit blendshapes as JSON, one object per frame keyed by ARKit's camelCase names::

    {
      "format": "arkit-blendshapes",
      "fps": 25,
      "frameCount": 75,
      "frames": [
        {"time": 0.0, "blendShapes": {"eyeBlinkLeft": 0, ..., "tongueOut": 0},
         "headRotation": {"yaw": 0, "pitch": 0, "roll": 0},
         "leftEyeRotation": {...}, "rightEyeRotation": {...}},
        ...
      ]
    }

Coefficients are in [0, 1] with four decimals, in ARKit's order; rotations in radians
(headcast's signs: see ``motion.arkit.arkit_rotations``). Frame ``i`` shows time ``i / fps``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from headcast.motion.arkit import ARKIT_BLENDSHAPES, ROTATION_NAMES

FORMAT = "arkit-blendshapes"
DECIMALS = 4
_GROUPS = {"headRotation": "Head", "leftEyeRotation": "LeftEye", "rightEyeRotation": "RightEye"}
_AXES = ("yaw", "pitch", "roll")


def _number(value: float, decimals: int = DECIMALS) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def write(
    blendshapes: Mapping[str, np.ndarray],
    fps: float,
    rotations: Mapping[str, np.ndarray] | None = None,
) -> str:
    n_frames = len(next(iter(blendshapes.values()))) if blendshapes else 0
    zero = np.zeros(n_frames)
    shapes = {n: np.asarray(blendshapes.get(n, zero), np.float64) for n in ARKIT_BLENDSHAPES}
    turns = {n: np.asarray((rotations or {}).get(n, zero), np.float64) for n in ROTATION_NAMES}
    frames = []
    for i in range(n_frames):
        parts = [f'"time": {_number(i / fps, 6)}']
        parts.append(
            '"blendShapes": {'
            + ", ".join(f'"{n}": {_number(shapes[n][i])}' for n in ARKIT_BLENDSHAPES)
            + "}"
        )
        for key, prefix in _GROUPS.items():
            axes = ", ".join(
                f'"{axis}": {_number(turns[prefix + axis.capitalize()][i], 6)}' for axis in _AXES
            )
            parts.append(f'"{key}": {{{axes}}}')
        frames.append("    {" + ", ".join(parts) + "}")
    head = f'{{\n  "format": "{FORMAT}",\n  "fps": {_number(fps, 6)},\n  "frameCount": {n_frames}'
    return head + ',\n  "frames": [\n' + ",\n".join(frames) + "\n  ]\n}\n"


def read(text: str) -> tuple[float, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(fps, blendshapes by camelCase name, rotations by Live Link column name)."""
    try:
        data = json.loads(text)
        fps = float(data["fps"])
        frames = data["frames"]
        shapes = {
            n: np.array([float(f["blendShapes"].get(n, 0.0)) for f in frames], np.float32)
            for n in ARKIT_BLENDSHAPES
        }
        turns = {
            prefix + axis.capitalize(): np.array(
                [float(f.get(key, {}).get(axis, 0.0)) for f in frames], np.float32
            )
            for key, prefix in _GROUPS.items()
            for axis in _AXES
        }
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"not an ARKit blendshape JSON document: {exc}") from None
    return fps, shapes, {n: turns[n] for n in ROTATION_NAMES}
