"""How much the head moves: one intensity from 0 (held still) to 1 (the liveliest), read alike
from every way in — the library, the CLI, the REST API and the live protocols."""

from __future__ import annotations

import math
import numbers

from headcast.motion.tunables import HEAD_MOTION_DEFAULT

MIN_HEAD_MOTION, MAX_HEAD_MOTION = 0.0, 1.0

__all__ = ["HEAD_MOTION_DEFAULT", "MAX_HEAD_MOTION", "MIN_HEAD_MOTION", "head_motion_intensity"]


def head_motion_intensity(value: object, name: str = "head_motion") -> float:
    """``value`` as an intensity in [0, 1]: a number in that range, or a bool as the on/off
    switch it replaced (True: the default, False: still). ValueError naming ``name``
    otherwise."""
    if isinstance(value, bool):
        return HEAD_MOTION_DEFAULT if value else MIN_HEAD_MOTION
    if isinstance(value, numbers.Real):
        intensity = float(value)
        if math.isfinite(intensity) and MIN_HEAD_MOTION <= intensity <= MAX_HEAD_MOTION:
            return intensity
    raise ValueError(
        f"{name} must be a number from {MIN_HEAD_MOTION:g} (head still) to "
        f"{MAX_HEAD_MOTION:g} (the liveliest), got {value!r}"
    )
