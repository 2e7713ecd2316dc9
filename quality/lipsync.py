"""Lip-sync and stability metrics over per-frame judge readings and known phone timings.

Frame ``i`` shows time ``i / fps``. Phones are any objects with ``.label``, ``.start_s`` and
``.end_s`` (headcast's ``Phone``, or the judge's own ``PhoneSpan``); labels are compared in
upper case with ARPAbet stress digits and ``<>`` stripped, so ``"m"``, ``"M"`` and ``"<sil>"``
work. Per-frame inputs may hold ``None`` (or NaN) where no face was found: such a frame never
counts as closed and is left out of correlations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from quality.judge import JAW_OUTLINE, LIPS_CLOSED_APERTURE, FaceMeasure

BILABIALS = ("P", "B", "M")
SILENCES = ("SIL",)


class PhoneLike(Protocol):
    """Anything with a label and a time span in seconds."""

    label: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PhoneSpan:
    """A phone label with its time span (for phones read from JSON or TTS events)."""

    label: str
    start_s: float
    end_s: float


def normalise_label(label: str) -> str:
    """Upper case, no stress digit, no ``<>``: ``"<sil>"`` → ``"SIL"``, ``"ah1"`` → ``"AH"``."""
    return label.strip().strip("<>").rstrip("012").upper()


def closed_flags(values: Iterable[Any], threshold: float = LIPS_CLOSED_APERTURE) -> np.ndarray:
    """Per-frame lips-closed booleans from flags, apertures (< threshold) or FaceMeasures."""
    out: list[bool] = []
    for value in values:
        if value is None:
            out.append(False)
        elif isinstance(value, FaceMeasure):
            out.append(value.lips_closed)
        elif isinstance(value, bool | np.bool_):
            out.append(bool(value))
        else:
            number = float(value)
            out.append(not math.isnan(number) and number < threshold)
    return np.array(out, dtype=bool)


def apertures_of(values: Iterable[Any]) -> np.ndarray:
    """Per-frame apertures as floats (NaN where no face) from numbers or FaceMeasures."""
    out = []
    for value in values:
        if value is None:
            out.append(math.nan)
        elif isinstance(value, FaceMeasure):
            out.append(value.aperture)
        else:
            out.append(float(value))
    return np.array(out, dtype=np.float64)


def frames_in(start_s: float, end_s: float, fps: float, n_frames: int) -> range:
    """Indices ``i`` with ``start_s <= i / fps < end_s``, clipped to the video."""
    first = max(math.ceil(start_s * fps - 1e-9), 0)
    stop = min(math.ceil(end_s * fps - 1e-9), n_frames)
    return range(first, max(stop, first))


def bilabial_closure(
    closed_or_apertures: Iterable[Any],
    phones: Iterable[PhoneLike],
    fps: float,
    *,
    threshold: float = LIPS_CLOSED_APERTURE,
    labels: Sequence[str] = BILABIALS,
) -> float:
    """Share of /P B M/ phones during which at least one frame shows the lips closed.

    A phone shorter than a frame, with no frame inside it, is judged on the frame nearest its
    midpoint. Phones starting after the last frame are skipped. NaN when none is judged.
    """
    closed = closed_flags(closed_or_apertures, threshold)
    wanted = {normalise_label(label) for label in labels}
    hits = total = 0
    for phone in phones:
        if normalise_label(phone.label) not in wanted or phone.start_s * fps > len(closed) - 0.5:
            continue
        inside = frames_in(phone.start_s, phone.end_s, fps, len(closed))
        if len(inside) == 0:
            nearest = min(max(round((phone.start_s + phone.end_s) / 2 * fps), 0), len(closed) - 1)
            inside = range(nearest, nearest + 1)
        total += 1
        hits += bool(closed[inside.start : inside.stop].any())
    return hits / total if total else math.nan


def silence_rest(
    closed_or_apertures: Iterable[Any],
    phones: Iterable[PhoneLike],
    fps: float,
    *,
    trim_s: float = 0.1,
    threshold: float = LIPS_CLOSED_APERTURE,
    labels: Sequence[str] = SILENCES,
) -> float:
    """Share of frames inside silences (each trimmed by ``trim_s`` at both edges) with lips closed.

    The trim leaves room for coarticulation into and out of speech. NaN when no frame is judged.
    """
    closed = closed_flags(closed_or_apertures, threshold)
    wanted = {normalise_label(label) for label in labels}
    judged: set[int] = set()
    for phone in phones:
        if normalise_label(phone.label) in wanted:
            judged.update(frames_in(phone.start_s + trim_s, phone.end_s - trim_s, fps, len(closed)))
    if not judged:
        return math.nan
    return float(closed[sorted(judged)].mean())


# Expected mouth openness per ARPAbet phone, 0 (lips together) to 1 (wide open), from the
# usual viseme groupings (Preston Blair / Disney A–X shapes). A rough target for correlation.
_OPENNESS = {
    "SIL": 0.0, "P": 0.0, "B": 0.0, "M": 0.0,
    "F": 0.15, "V": 0.15,
    "W": 0.2, "UW": 0.35, "UH": 0.4, "OW": 0.55, "OY": 0.55, "R": 0.3, "ER": 0.4,
    "S": 0.2, "Z": 0.2, "SH": 0.3, "ZH": 0.3, "CH": 0.3, "JH": 0.3, "TH": 0.25, "DH": 0.25,
    "T": 0.25, "D": 0.25, "N": 0.25, "L": 0.35, "K": 0.35, "G": 0.35, "NG": 0.3,
    "HH": 0.5, "Y": 0.3, "IY": 0.35, "IH": 0.45, "EY": 0.55, "EH": 0.6,
    "AE": 0.8, "AH": 0.7, "AW": 0.85, "AY": 0.85, "AO": 0.85, "AA": 1.0,
}  # fmt: skip


def expected_openness(
    phones: Iterable[PhoneLike], fps: float, n_frames: int, default: float = 0.3
) -> np.ndarray:
    """Per-frame expected openness from the phone under each frame (0 outside any phone)."""
    out = np.zeros(n_frames, dtype=np.float64)
    for phone in phones:
        value = _OPENNESS.get(normalise_label(phone.label), default)
        span = frames_in(phone.start_s, phone.end_s, fps, n_frames)
        out[span.start : span.stop] = value
    return out


def openness_correlation(apertures: Iterable[Any], expected: Iterable[float]) -> float:
    """Pearson correlation of measured aperture and expected openness (NaN frames skipped)."""
    a = apertures_of(apertures)
    e = np.asarray(list(expected), dtype=np.float64)
    n = min(len(a), len(e))
    return _pearson(a[:n], e[:n])


def speech_envelope(
    audio: np.ndarray, fps: float, n_frames: int, sample_rate: int = 16_000
) -> np.ndarray:
    """RMS of the audio in a one-frame window centred on each frame's time ``i / fps``."""
    samples = np.asarray(audio, dtype=np.float64)
    half = sample_rate / fps / 2.0
    out = np.zeros(n_frames, dtype=np.float64)
    for i in range(n_frames):
        centre = i * sample_rate / fps
        lo, hi = max(round(centre - half), 0), min(round(centre + half), len(samples))
        if hi > lo:
            out[i] = math.sqrt(float(np.mean(samples[lo:hi] ** 2)))
    return out


def av_sync_curve(
    apertures: Iterable[Any],
    audio: np.ndarray,
    fps: float,
    max_lag: int = 5,
    sample_rate: int = 16_000,
) -> dict[int, float]:
    """Correlation of aperture with the speech envelope at each lag (positive = video late)."""
    a = apertures_of(apertures)
    envelope = speech_envelope(audio, fps, len(a), sample_rate)
    curve: dict[int, float] = {}
    for lag in range(-max_lag, max_lag + 1):
        # video late by `lag` frames: the aperture at i + lag belongs to the sound at i
        if lag >= 0:
            curve[lag] = _pearson(a[lag:], envelope[: len(a) - lag])
        else:
            curve[lag] = _pearson(a[: len(a) + lag], envelope[-lag:])
    return curve


def av_offset_frames(
    apertures: Iterable[Any],
    audio: np.ndarray,
    fps: float,
    max_lag: int = 5,
    sample_rate: int = 16_000,
) -> int:
    """Lag in frames of the best aperture/speech-envelope correlation (positive = video late)."""
    curve = av_sync_curve(apertures, audio, fps, max_lag, sample_rate)
    finite = {lag: r for lag, r in curve.items() if not math.isnan(r)}
    if not finite:
        raise ValueError("no usable aperture/envelope overlap to correlate")
    return max(finite, key=lambda lag: (finite[lag], -abs(lag)))


def jitter(points_seq: Iterable[Any], indices: Sequence[int] = JAW_OUTLINE) -> float:
    """Mean frame-to-frame motion (pixels) of the given landmarks; pairs with a gap skipped."""
    steps: list[float] = []
    previous: np.ndarray | None = None
    for item in points_seq:
        points = item.landmarks if isinstance(item, FaceMeasure) else item
        current = None if points is None else np.asarray(points, dtype=np.float64)[list(indices)]
        if previous is not None and current is not None:
            steps.append(float(np.linalg.norm(current - previous, axis=1).mean()))
        previous = current
    return float(np.mean(steps)) if steps else math.nan


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or x.std() == 0 or y.std() == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])
