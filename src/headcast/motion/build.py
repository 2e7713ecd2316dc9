"""The speech-to-motion pipeline: phones and prosody → a MotionTrack at the video frame rate.

Steps, one per module: keys → coarticulation → curves → constraints (the mouth), then blinks,
brows, gaze and head from prosody.
"""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import Audio
from headcast.motion import tunables as T
from headcast.motion.blinks import blink_curve, blink_times, pause_starts
from headcast.motion.brows import accent_times, brow_curve
from headcast.motion.face_motion import CONTROL_NAMES, MotionTrack
from headcast.motion.gaze import gaze_curves
from headcast.motion.head import head_curves
from headcast.motion.mouth import mouth_curves
from headcast.motion.prosody import Prosody, prosody_of
from headcast.phones.track import PhoneTrack


def frame_count(duration_s: float, fps: float) -> int:
    """Frames needed to cover ``duration_s``: the video ends within one frame of the audio."""
    return max(int(round(duration_s * fps)), 1)


def settled_frames(known_until_s: float, fps: float) -> int:
    """How many first frames no phone after ``known_until_s`` can change."""
    return max(int(np.floor((known_until_s - T.PHONE_REACH_BACK_S) * fps)), 0)


def build_motion(
    track: PhoneTrack,
    audio: Audio | None,
    fps: float,
    *,
    seed: int = 0,
    head_motion: bool = True,
    prosody: Prosody | None = None,
) -> MotionTrack:
    """FaceMotion for every frame of ``audio``; the same inputs and seed give the same motion.

    ``prosody`` is ``prosody_of(audio)`` where the caller measured it already (``audio`` is
    then not needed, and may be None). A phone changes
    no frame more than ``T.PHONE_REACH_BACK_S`` before it, so the frames ``settled_frames``
    counts from a track whose phones are known only up to some time are already final.
    """
    n_frames = frame_count(track.duration_s, fps)
    # One random stream per part, so that what the phones change in one (the blinks and
    # glances at pauses) leaves the others as they were.
    blink_rng, gaze_rng, head_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    if prosody is None:
        if audio is None:
            raise ValueError("build_motion needs the audio or its prosody")
        prosody = prosody_of(audio)
    loudness, semitones = prosody.loudness, prosody.semitones
    controls: dict[str, np.ndarray] = dict(mouth_curves(track, loudness, fps, n_frames))
    pauses = pause_starts(track, T.MIN_SILENCE_FOR_REST_MS / 1000)
    controls["blink"] = blink_curve(blink_times(track.duration_s, pauses, blink_rng), fps, n_frames)
    controls["brow_raise"] = brow_curve(accent_times(track, semitones), fps, n_frames)
    controls.update(gaze_curves(track.duration_s, pauses, fps, n_frames, gaze_rng))
    frame_t = np.arange(n_frames) / fps
    fine_t = np.arange(len(loudness)) / T.CURVE_RATE_HZ
    frame_loudness = np.interp(frame_t, fine_t, loudness)
    frame_semitones = np.interp(frame_t, fine_t[: len(semitones)], semitones)
    if head_motion:
        controls.update(head_curves(frame_loudness, frame_semitones, fps, head_rng))
    for name in CONTROL_NAMES:
        controls.setdefault(name, np.zeros(n_frames, np.float32))
    return MotionTrack(
        fps=fps,
        controls={k: np.asarray(v, np.float32) for k, v in controls.items()},
        visemes=_visemes(track, fps, n_frames),
    )


def _visemes(track: PhoneTrack, fps: float, n_frames: int) -> dict[str, np.ndarray] | None:
    try:
        from headcast.motion.oculus_visemes import oculus_viseme_weights
    except ImportError:
        return None
    return oculus_viseme_weights(track, fps, n_frames)
