"""Phones → smooth mouth-control curves, with hard lip closure on /p b m/ and rest in pauses."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import PchipInterpolator
from scipy.ndimage import gaussian_filter1d

from headcast.motion import tunables as T
from headcast.motion.visemes import BILABIALS, REST, VOWELS, MouthTarget, target_for
from headcast.phones.track import PhoneTrack

MOUTH_CONTROLS = ("jaw_open", "mouth_stretch", "lip_pucker", "lip_press")


def _keys(track: PhoneTrack) -> tuple[np.ndarray, list[MouthTarget]]:
    """Key times and shapes: one per phone at its middle, two for long ones, rest in pauses."""
    times: list[float] = [0.0]
    shapes: list[MouthTarget] = [REST]
    ease = T.SILENCE_EASE_MS / 1000
    for phone in track.phones:
        if phone.is_silence:
            if phone.duration_s * 1000 >= T.MIN_SILENCE_FOR_REST_MS:
                times += [phone.start_s + ease, phone.end_s - ease]
                shapes += [REST, REST]
            continue
        target = target_for(phone.label)
        if phone.duration_s * 1000 > T.LONG_PHONE_MS:
            times += [phone.start_s + 0.3 * phone.duration_s, phone.end_s - 0.3 * phone.duration_s]
            shapes += [target, target]
        else:
            times.append(0.5 * (phone.start_s + phone.end_s))
            shapes.append(target)
    times.append(track.duration_s)
    shapes.append(REST)
    order = np.argsort(times, kind="stable")
    t = np.asarray(times)[order]
    s = [shapes[i] for i in order]
    keep = np.concatenate([[True], np.diff(t) > 1e-4])
    return t[keep], [x for x, k in zip(s, keep, strict=True) if k]


def mouth_curves(
    track: PhoneTrack, energy: np.ndarray, fps: float, n_frames: int
) -> dict[str, np.ndarray]:
    """Per-frame mouth controls; frame i shows time i / fps.

    ``energy`` is the loudness envelope in [0, 1] sampled at ``T.CURVE_RATE_HZ``.
    """
    rate = T.CURVE_RATE_HZ
    n_fine = max(int(np.ceil(track.duration_s * rate)) + 1, 2)
    fine_t = np.arange(n_fine) / rate
    key_t, key_shapes = _keys(track)
    curves: dict[str, np.ndarray] = {}
    for name in MOUTH_CONTROLS:
        values = np.array([getattr(s, name) for s in key_shapes])
        if len(key_t) >= 2:
            curve = PchipInterpolator(key_t, values, extrapolate=True)(fine_t)
        else:
            curve = np.zeros(n_fine)
        curves[name] = gaussian_filter1d(curve, T.SMOOTHING_SIGMA_MS / 1000 * rate, mode="nearest")

    loud = (
        np.interp(np.arange(n_fine), np.arange(len(energy)), energy)
        if len(energy)
        else np.ones(n_fine)
    )
    curves["jaw_open"] *= T.ENERGY_FLOOR_SHARE + (1 - T.ENERGY_FLOOR_SHARE) * loud

    frame_t = np.arange(n_frames) / fps
    out = {name: np.interp(frame_t, fine_t, c).astype(np.float32) for name, c in curves.items()}
    _constrain(out, track, fps, n_frames)
    out["jaw_open"] = np.clip(out["jaw_open"], 0.0, 1.0)
    out["lip_pucker"] = np.clip(out["lip_pucker"], 0.0, 1.0)
    out["lip_press"] = np.clip(out["lip_press"], 0.0, 1.0)
    out["mouth_stretch"] = np.clip(out["mouth_stretch"], -1.0, 1.0)
    return out


def _frames_within(start_s: float, end_s: float, fps: float, n_frames: int) -> np.ndarray:
    first = int(np.ceil(start_s * fps - 1e-9))
    last = int(np.floor(end_s * fps - 1e-9))
    idx = np.arange(max(first, 0), min(last, n_frames - 1) + 1)
    if len(idx) == 0:
        nearest = int(np.clip(round(0.5 * (start_s + end_s) * fps), 0, n_frames - 1))
        idx = np.array([nearest])
    return idx


def _constrain(curves: dict[str, np.ndarray], track: PhoneTrack, fps: float, n_frames: int) -> None:
    """Hard rules the smoothing may not blur: lips meet on bilabials, the mouth rests in pauses."""
    if n_frames == 0:
        return
    ease = T.SILENCE_EASE_MS / 1000
    for phone in track.phones:
        if phone.label in BILABIALS:
            idx = _frames_within(phone.start_s, phone.end_s, fps, n_frames)
            curves["jaw_open"][idx] = 0.0
            curves["lip_press"][idx] = np.maximum(
                curves["lip_press"][idx], target_for(phone.label).lip_press
            )
        elif phone.is_silence and phone.duration_s * 1000 >= T.MIN_SILENCE_FOR_REST_MS:
            start = phone.start_s + ease if phone.start_s > 0 else 0.0
            end = phone.end_s - ease if phone.end_s < track.duration_s - 1e-6 else phone.end_s + 1.0
            if end > start:
                idx = _frames_within(start, end, fps, n_frames)
                for name in MOUTH_CONTROLS:
                    curves[name][idx] = 0.0
        elif phone.label in VOWELS:
            # Every vowel opens the mouth visibly, however fast the speech.
            idx = _frames_within(phone.start_s, phone.end_s, fps, n_frames)
            floor = 0.5 * target_for(phone.label).jaw_open
            curves["jaw_open"][idx] = np.maximum(curves["jaw_open"][idx], floor)
