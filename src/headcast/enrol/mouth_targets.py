"""Which mouth a frame of motion asks for: the mouth controls of a FaceMotion mapped to the
measured shape numbers of this person's mouths.

With speech in the clip, the map is learnt from it: each frame's controls (what the motion
step makes of the clip's own sound) against the shape measured on that frame, by ridge
regression, then a monotone map of each shape number so that the predictions spread as the
real shapes do (a regression alone shrinks towards the mean: closures would not close).
Without speech, a generic map spans the range of shapes the clip shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.enrol.mouth_shape import SHAPE_NAMES
from headcast.motion.visemes import MOUTH_CONTROLS

RIDGE = 2.0
QUANTILES = np.linspace(0.0, 1.0, 41)
MIN_SPEECH_FRAMES = 100  # fewer frames of speech than this: the generic map
_C = {name: i for i, name in enumerate(MOUTH_CONTROLS)}
_S = {name: i for i, name in enumerate(SHAPE_NAMES)}


@dataclass(frozen=True)
class MouthTargets:
    """controls (…, 8) → shape numbers (…, 6)."""

    weights: np.ndarray  # (6, 8)
    bias: np.ndarray  # (6,)
    # Per shape number, the predicted values at QUANTILES and the real ones they map to.
    predicted_quantiles: np.ndarray  # (6, len(QUANTILES)); empty: no monotone map
    real_quantiles: np.ndarray

    def __call__(self, controls: np.ndarray) -> np.ndarray:
        linear = controls @ self.weights.T + self.bias
        if self.predicted_quantiles.size == 0:
            return linear.astype(np.float32)
        out = np.empty_like(linear)
        for k in range(linear.shape[-1]):
            out[..., k] = np.interp(
                linear[..., k], self.predicted_quantiles[k], self.real_quantiles[k]
            )
        return out.astype(np.float32)

    def as_arrays(self) -> dict[str, np.ndarray]:
        return {
            "map_weights": self.weights,
            "map_bias": self.bias,
            "map_predicted_q": self.predicted_quantiles,
            "map_real_q": self.real_quantiles,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> MouthTargets:
        return cls(
            arrays["map_weights"],
            arrays["map_bias"],
            arrays["map_predicted_q"],
            arrays["map_real_q"],
        )


def learn_targets(controls: np.ndarray, shapes: np.ndarray) -> MouthTargets:
    """The map learnt from frames whose controls and shapes are both known."""
    x = np.hstack([controls, np.ones((len(controls), 1), np.float32)]).astype(np.float64)
    penalty = RIDGE * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    solution = np.linalg.solve(x.T @ x + penalty, x.T @ shapes.astype(np.float64))
    weights, bias = solution[:-1].T, solution[-1]
    predicted = controls @ weights.T + bias
    pq = np.quantile(predicted, QUANTILES, axis=0).T
    rq = np.quantile(shapes, QUANTILES, axis=0).T
    # Strictly increasing, for interpolation: ties spread by a hair.
    pq = pq + np.arange(len(QUANTILES))[None, :] * 1e-7
    return MouthTargets(weights.astype(np.float32), bias.astype(np.float32), pq, rq)


def generic_targets(shapes: np.ndarray) -> MouthTargets:
    """A map spanning the shapes the clip shows, for clips without speech."""
    q = lambda col, p: float(np.quantile(shapes[:, _S[col]], p))  # noqa: E731
    w = np.zeros((len(SHAPE_NAMES), len(MOUTH_CONTROLS)), np.float32)
    b = np.zeros(len(SHAPE_NAMES), np.float32)
    opening_lo, opening_hi = q("opening", 0.05), q("opening", 0.95)
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
    return MouthTargets(w, b, np.zeros((0, 0)), np.zeros((0, 0)))


def mouth_targets(
    controls: np.ndarray | None, shapes: np.ndarray, speaking: np.ndarray | None
) -> MouthTargets:
    """The learnt map when the clip has enough speech, the generic one otherwise."""
    if controls is None or speaking is None or int(speaking.sum()) < MIN_SPEECH_FRAMES:
        return generic_targets(shapes)
    return learn_targets(controls, shapes)
