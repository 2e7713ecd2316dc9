"""The speech-to-motion pipeline: phones and loudness → a MotionTrack at the video frame rate."""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import Audio
from headcast.motion import tunables as T
from headcast.motion.blinks import blink_curve, blink_times, pause_starts
from headcast.motion.face_motion import CONTROL_NAMES, MotionTrack
from headcast.motion.head import head_curves
from headcast.motion.mouth import mouth_curves
from headcast.motion.prosody import loudness_envelope
from headcast.phones.track import PhoneTrack


def frame_count(duration_s: float, fps: float) -> int:
    """Frames needed to cover ``duration_s``: the video ends within one frame of the audio."""
    return max(round(duration_s * fps), 1)


def build_motion(
    track: PhoneTrack, audio: Audio, fps: float, *, seed: int = 0, head_motion: bool = True
) -> MotionTrack:
    """FaceMotion for every frame of ``audio``; the same inputs and seed give the same motion."""
    n_frames = frame_count(track.duration_s, fps)
    rng = np.random.default_rng(seed)
    loudness = loudness_envelope(audio)
    controls: dict[str, np.ndarray] = dict(mouth_curves(track, loudness, fps, n_frames))
    pauses = pause_starts(track, T.MIN_SILENCE_FOR_REST_MS / 1000)
    controls["blink"] = blink_curve(blink_times(track.duration_s, pauses, rng), fps, n_frames)
    frame_loudness = np.interp(
        np.arange(n_frames) / fps, np.arange(len(loudness)) / T.CURVE_RATE_HZ, loudness
    )
    if head_motion:
        controls.update(head_curves(frame_loudness, fps, rng))
    for name in CONTROL_NAMES:
        controls.setdefault(name, np.zeros(n_frames, np.float32))
    return MotionTrack(
        fps=fps, controls={k: np.asarray(v, np.float32) for k, v in controls.items()}
    )
