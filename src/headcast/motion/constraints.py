"""Step 4 of the mouth: hard rules that smoothing may not blur.

Lips meet on /p b m/ (in every frame inside the phone, or the nearest frame for a phone
shorter than one), the lower lip is at the upper teeth on /f v/, the mouth rests in pauses,
and every vowel opens the mouth visibly however fast the speech.
"""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.visemes import BILABIALS, LABIODENTALS, MOUTH_CONTROLS, VOWELS, target_for
from headcast.phones.track import PhoneTrack


def frames_within(
    start_s: float, end_s: float, fps: float, n_frames: int, first_frame: int = 0
) -> np.ndarray:
    """Frames (absolute indices) whose time i / fps falls in [start, end); the nearest if none."""
    first = int(np.ceil(start_s * fps - 1e-9))
    last = int(np.ceil(end_s * fps - 1e-9)) - 1
    idx = np.arange(max(first, first_frame), min(last, first_frame + n_frames - 1) + 1)
    if len(idx) == 0:
        nearest = int(round(0.5 * (start_s + end_s) * fps))
        if first_frame <= nearest < first_frame + n_frames:
            idx = np.array([nearest])
    return idx


def apply_constraints(
    curves: dict[str, np.ndarray], track: PhoneTrack, fps: float, first_frame: int = 0
) -> None:
    """Enforce the rules in place on per-frame curves starting at ``first_frame``."""
    n_frames = len(curves["jaw_open"])
    if n_frames == 0:
        return
    ease = T.SILENCE_EASE_MS / 1000

    def local(idx: np.ndarray) -> np.ndarray:
        return idx - first_frame

    nearby = [
        p
        for p in track.phones
        if not (p.end_s * fps < first_frame - 1 or p.start_s * fps > first_frame + n_frames + 1)
    ]
    for phone in nearby:
        if phone.label in LABIODENTALS:
            idx = local(frames_within(phone.start_s, phone.end_s, fps, n_frames, first_frame))
            curves["lower_lip_tuck"][idx] = np.maximum(
                curves["lower_lip_tuck"][idx], T.LABIODENTAL_TUCK_MIN
            )
            curves["jaw_open"][idx] = np.minimum(curves["jaw_open"][idx], T.LABIODENTAL_JAW_MAX)
        elif phone.is_silence and phone.duration_s * 1000 >= T.MIN_SILENCE_FOR_REST_MS:
            start = phone.start_s + ease if phone.start_s > 0 else 0.0
            end = phone.end_s - ease if phone.end_s < track.duration_s - 1e-6 else phone.end_s + 1.0
            if end > start:
                idx = local(frames_within(start, end, fps, n_frames, first_frame))
                for name in MOUTH_CONTROLS:
                    curves[name][idx] = 0.0
        elif phone.label in VOWELS:
            idx = local(frames_within(phone.start_s, phone.end_s, fps, n_frames, first_frame))
            floor = T.VOWEL_MIN_OPEN_SHARE * target_for(phone.label).jaw_open
            curves["jaw_open"][idx] = np.maximum(curves["jaw_open"][idx], floor)
    # Closure last: a bilabial shorter than a frame may own a frame inside the next vowel.
    for phone in nearby:
        if phone.label in BILABIALS:
            # The lips close a little before the burst, and timings from audio are never exact.
            start = phone.start_s - T.BILABIAL_LEAD_MS / 1000
            end = phone.end_s + T.BILABIAL_LAG_MS / 1000
            idx = local(frames_within(start, end, fps, n_frames, first_frame))
            curves["jaw_open"][idx] = 0.0
            curves["lip_funnel"][idx] = 0.0
            curves["lower_lip_tuck"][idx] = 0.0
            curves["tongue_tip"][idx] = 0.0
            curves["lip_press"][idx] = np.maximum(
                curves["lip_press"][idx], target_for(phone.label).lip_press
            )
