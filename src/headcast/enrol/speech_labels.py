"""What the clip's own speech says about each of its frames: the mouth controls headcast's
motion step makes for that moment, the viseme being spoken, and whether the person speaks.

Real clips often carry an offset between sound and picture; it is measured here (the lag
that best lines the controls' jaw up with the measured mouth opening) and undone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from headcast.audio.clip import Audio
from headcast.motion.build import MotionOptions, clip_motion, collect_motion
from headcast.motion.face_motion import FaceMotion
from headcast.motion.oculus_visemes import OCULUS_VISEMES, PHONE_VISEMES
from headcast.motion.visemes import MOUTH_CONTROLS
from headcast.phones.track import SILENCE, PhoneTrack

MAX_OFFSET_S = 0.4  # sound and picture of a usable clip are never further apart than this
_SILENT = OCULUS_VISEMES.index("sil")


@dataclass(frozen=True)
class SpeechLabels:
    """Per video frame, already shifted by the clip's A/V offset."""

    controls: np.ndarray  # (n, len(MOUTH_CONTROLS)) float32
    visemes: np.ndarray  # (n,) int8 index into OCULUS_VISEMES
    speaking: np.ndarray  # (n,) bool
    offset_s: float  # the picture lags the sound by this much (negative: it leads)


def speech_labels(
    audio: Audio, fps: float, n_frames: int, opening: np.ndarray, transcript: str | None
) -> SpeechLabels:
    """Label ``n_frames`` frames at ``fps`` from ``audio`` (16 kHz); ``opening`` is each
    frame's measured mouth opening (NaN where not measured), to find the A/V offset."""
    frames, track = collect_motion(
        clip_motion(audio, MotionOptions(fps, head_motion=0.0), transcript=transcript)
    )
    controls = _controls(frames, n_frames)
    visemes = _spoken_visemes(track, fps, n_frames)
    lag = _best_lag(controls[:, MOUTH_CONTROLS.index("jaw_open")], opening, int(MAX_OFFSET_S * fps))
    return SpeechLabels(
        controls=_shift(controls, lag),
        visemes=_shift(visemes, lag, fill=_SILENT),
        speaking=_shift(visemes != _SILENT, lag, fill=False),
        offset_s=lag / fps,
    )


def _spoken_visemes(track: PhoneTrack, fps: float, n_frames: int) -> np.ndarray:
    """The viseme of the phone each frame's moment falls in (a diphthong's first), so that a
    short sound counts for the frames it lasts; a phone with no viseme of its own (HH) takes
    the next one's."""
    out = np.full(n_frames, _SILENT, np.int8)
    phones = track.phones
    for k, phone in enumerate(phones):
        shapes = PHONE_VISEMES.get(phone.label)
        if shapes is None:
            following = phones[k + 1].label if k + 1 < len(phones) else SILENCE
            shapes = PHONE_VISEMES.get(following, ("sil",))
        first = int(np.ceil(phone.start_s * fps - 1e-9))
        last = int(np.ceil(phone.end_s * fps - 1e-9))
        out[max(first, 0) : min(last, n_frames)] = OCULUS_VISEMES.index(shapes[0])
    return out


def _controls(frames: list[FaceMotion], n_frames: int) -> np.ndarray:
    out = np.zeros((n_frames, len(MOUTH_CONTROLS)), np.float32)
    rows = np.array(
        [[getattr(f, c) for c in MOUTH_CONTROLS] for f in frames[:n_frames]], np.float32
    )
    out[: len(rows)] = rows.reshape(len(rows), len(MOUTH_CONTROLS))
    return out


def _best_lag(jaw: np.ndarray, opening: np.ndarray, max_lag: int) -> int:
    """The lag (frames the picture trails the sound) of best correlation."""
    n = min(len(jaw), len(opening))
    jaw, opening = jaw[:n], opening[:n]
    best, best_r = 0, -np.inf
    for lag in range(-max_lag, max_lag + 1):
        a = jaw[max(0, -lag) : n - max(0, lag)]
        b = opening[max(0, lag) : n - max(0, -lag)]
        ok = np.isfinite(b)
        if ok.sum() < 10 or np.std(a[ok]) < 1e-6 or np.std(b[ok]) < 1e-9:
            continue
        r = float(np.corrcoef(a[ok], b[ok])[0, 1])
        if r > best_r:
            best, best_r = lag, r
    return best


def _shift(values: np.ndarray, lag: int, fill: object = 0) -> np.ndarray:
    """``values`` moved ``lag`` frames later (the picture's frame i shows sound frame i-lag)."""
    out = np.empty_like(values)
    out[...] = fill
    n = len(values)
    if lag >= 0:
        out[lag:] = values[: n - lag]
    else:
        out[: n + lag] = values[-lag:]
    return out
