"""Which mouth a frame of motion asks for: the mouth controls of a FaceMotion mapped to the
measured shape numbers of this person's mouths.

With speech in the clip, the map is learnt from it: each frame's controls (what the motion
step makes of the clip's own sound) against the shape measured on that frame, by ridge
regression, stretched so that the predictions spread as the real shapes do (a regression
alone shrinks towards the mean: closures would not close).
Without speech, a generic map spans the range of shapes the clip shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.enrol.mouth_shape import SHAPE_NAMES
from headcast.motion.visemes import MOUTH_CONTROLS

RIDGE = 2.0
SPREAD_QUANTILES = (0.1, 0.95)  # the spread a map is stretched to
MIN_SPEECH_FRAMES = 100
CLOSED_QUANTILE = 0.05  # the clip's closed lips: this share of its frames are as closed  # fewer frames of speech than this: the generic map
_C = {name: i for i, name in enumerate(MOUTH_CONTROLS)}
_S = {name: i for i, name in enumerate(SHAPE_NAMES)}


@dataclass(frozen=True)
class MouthTargets:
    """controls (…, 8) → shape numbers (…, 6): an affine map (shape numbers are never
    negative) whose opening at rest, ``bias``, is the clip's closed lips."""

    weights: np.ndarray  # (6, 8)
    bias: np.ndarray  # (6,)

    def __call__(self, controls: np.ndarray) -> np.ndarray:
        shapes = np.maximum(controls @ self.weights.T + self.bias, 0.0)
        # Pressed lips are closed lips, however open the jaw around them would have them:
        # the opening goes to the clip's closed lips as the press comes in.
        press = np.clip(controls[..., _C["lip_press"]], 0.0, 1.0)
        k = _S["opening"]
        shapes[..., k] += press * (self.bias[k] - shapes[..., k])
        return shapes.astype(np.float32)

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {"map_weights": self.weights, "map_bias": self.bias}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MouthTargets:
        return cls(arrays["map_weights"], arrays["map_bias"])


# Each shape number is learnt from the controls that make it only: with phones recognized
# from the clip, a free fit leans on whatever control happens to correlate (the opening then
# follows the jaw less than the jaw does).
DRIVEN_BY: dict[str, tuple[str, ...]] = {
    "opening": ("jaw_open", "lip_press", "lower_lip_tuck"),
    "width": ("mouth_stretch", "lip_pucker", "lip_funnel"),
    "rounding": ("lip_pucker", "lip_funnel", "mouth_stretch"),
    "press": ("lip_press", "lower_lip_tuck", "jaw_open"),
    "teeth": ("jaw_open", "upper_lip_raise", "lower_lip_tuck", "mouth_stretch"),
    "tongue": ("tongue_tip", "jaw_open"),
}


def learn_targets(controls: np.ndarray, shapes: np.ndarray) -> MouthTargets:
    """The map learnt from frames whose controls and shapes are both known."""
    weights = np.zeros((len(SHAPE_NAMES), len(MOUTH_CONTROLS)))
    bias = np.zeros(len(SHAPE_NAMES))
    for k, shape in enumerate(SHAPE_NAMES):
        cols = [_C[c] for c in DRIVEN_BY[shape]]
        x = np.hstack([controls[:, cols], np.ones((len(controls), 1))]).astype(np.float64)
        penalty = RIDGE * np.eye(x.shape[1])
        penalty[-1, -1] = 0.0
        solution = np.linalg.solve(x.T @ x + penalty, x.T @ shapes[:, k].astype(np.float64))
        weights[k, cols], bias[k] = solution[:-1], solution[-1]
    # A regression shrinks towards the mean; each shape number is stretched back to the
    # spread its real values have (an affine stretch: the map stays linear, so a mouth
    # follows the controls as closely as before).
    predicted = controls @ weights.T + bias
    for k in range(len(SHAPE_NAMES)):
        lo, hi = np.quantile(predicted[:, k], SPREAD_QUANTILES)
        real_lo, real_hi = np.quantile(shapes[:, k], SPREAD_QUANTILES)
        if hi - lo > 1e-9:
            gain = (real_hi - real_lo) / (hi - lo)
            weights[k] *= gain
            bias[k] = real_lo + (bias[k] - lo) * gain
    # A mouth at rest is closed, however this person rests between phrases: the controls'
    # rest lands on the clip's closed lips, the widest opening stays where it was.
    k = _S["opening"]
    closed, widest = (
        float(np.quantile(shapes[:, k], CLOSED_QUANTILE)),
        float(np.quantile(shapes[:, k], SPREAD_QUANTILES[1])),
    )
    top = float(np.quantile(controls @ weights[k] + bias[k], SPREAD_QUANTILES[1]))
    if top - bias[k] > 1e-9:
        weights[k] *= (widest - closed) / (top - bias[k])
        bias[k] = closed
    return MouthTargets(weights.astype(np.float32), bias.astype(np.float32))


def generic_targets(shapes: np.ndarray) -> MouthTargets:
    """A map spanning the shapes the clip shows, for clips without speech."""
    q = lambda col, p: float(np.quantile(shapes[:, _S[col]], p))  # noqa: E731
    w = np.zeros((len(SHAPE_NAMES), len(MOUTH_CONTROLS)), np.float32)
    b = np.zeros(len(SHAPE_NAMES), np.float32)
    opening_lo, opening_hi = q("opening", CLOSED_QUANTILE), q("opening", 0.95)
    b[_S["opening"]] = opening_lo
    w[_S["opening"], _C["jaw_open"]] = (opening_hi - opening_lo) / 0.7
    w[_S["opening"], _C["lip_press"]] = -opening_lo
    b[_S["width"]] = q("width", 0.5)
    w[_S["width"], _C["mouth_stretch"]] = (q("width", 0.95) - q("width", 0.05)) / 1.2
    w[_S["width"], _C["lip_pucker"]] = -(q("width", 0.5) - q("width", 0.05)) / 0.85
    b[_S["rounding"]] = q("rounding", 0.5)
    w[_S["rounding"], _C["lip_pucker"]] = (q("rounding", 0.95) - q("rounding", 0.5)) / 0.85
    b[_S["press"]] = q("press", 0.5)
    w[_S["press"], _C["lip_press"]] = q("press", 0.05) - q("press", 0.5)
    b[_S["teeth"]] = q("teeth", 0.05)
    w[_S["teeth"], _C["jaw_open"]] = (q("teeth", 0.9) - q("teeth", 0.05)) / 0.7
    w[_S["tongue"], _C["tongue_tip"]] = q("tongue", 0.9)
    return MouthTargets(w, b)


def mouth_targets(
    controls: np.ndarray | None, shapes: np.ndarray, speaking: np.ndarray | None
) -> MouthTargets:
    """The learnt map when the clip has enough speech, the generic one otherwise."""
    if controls is None or speaking is None or int(speaking.sum()) < MIN_SPEECH_FRAMES:
        return generic_targets(shapes)
    return learn_targets(controls, shapes)
