"""The one speech → motion step: FaceMotion frame by frame as the phones and prosody of the
speech become known.

A frame is made once the speech ``lookahead_s`` past it has been heard, from what is known at
that moment, and never changes. Every part — mouth, blinks, brows, gaze, head — decides from
the phones and sound up to that horizon only, so the frames depend on the speech and the seed,
not on how the audio arrived: a file is a stream whose audio came at once.
"""

from __future__ import annotations

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.accents import BeatFinder, stressed_vowels_under_way
from headcast.motion.blinks import Blinks
from headcast.motion.brows import BrowAccents
from headcast.motion.face_motion import FaceMotion
from headcast.motion.gaze import Gaze
from headcast.motion.head import SpeakingHead
from headcast.motion.idle import motion_streams
from headcast.motion.mouth import mouth_curves
from headcast.motion.prosody import ProsodyStream
from headcast.phones.track import Phone, PhoneTrack

# The mouth of a frame is smoothed with speech this far either side of it.
MOUTH_REACH_S = 4 * T.SMOOTHING_SIGMA_MS / 1000 + 0.02


class MotionBuilder:
    """FaceMotion for the frames of one stretch of speech, in order."""

    def __init__(
        self,
        fps: float,
        *,
        seed: int = 0,
        head_motion: float = T.HEAD_MOTION_DEFAULT,
        lookahead_s: float = T.LOOKAHEAD_MS / 1000,
    ) -> None:
        self.fps = fps
        self.lookahead_s = lookahead_s
        self.head_motion = head_motion
        blink_rng, gaze_rng, head_rng, pause_rng = motion_streams(seed)
        self._blinks = Blinks(blink_rng)
        self._gaze = Gaze(gaze_rng)
        self._head = SpeakingHead(head_rng, fps, head_motion)
        self._pauses = pause_rng
        self._brows = BrowAccents()
        self._beats = BeatFinder()
        self._last_pause_s = -np.inf
        self._next = 0

    @property
    def frames_made(self) -> int:
        return self._next

    def ready(self, known_s: float) -> int:
        """How many frames are final once the speech up to ``known_s`` is known."""
        return max(int(np.floor((known_s - self.lookahead_s) * self.fps + 1e-9)) + 1, 0)

    def make(
        self, n_frames: int, track: PhoneTrack, known_s: float, prosody: ProsodyStream
    ) -> list[tuple[int, FaceMotion]]:
        """Frames up to ``n_frames`` (exclusive), from the phones of ``track`` (those since
        ``MOUTH_CONTEXT_S`` before the first frame needed, on) known up to ``known_s``."""
        out = []
        for i in range(self._next, n_frames):
            out.append((i, self._frame(i, track, known_s, prosody)))
        self._next = max(self._next, n_frames)
        return out

    def _frame(
        self, i: int, track: PhoneTrack, known_s: float, prosody: ProsodyStream
    ) -> FaceMotion:
        t = i / self.fps
        rate = T.CURVE_RATE_HZ
        # Rounded: t + look-ahead and the audio heard may differ by a float's last bit.
        horizon_s = round(min(known_s, t + self.lookahead_s), 6)
        local = _heard_by(track.between(t - T.MOUTH_CONTEXT_S, horizon_s), horizon_s)
        lo, hi = int((t - T.MOUTH_CONTEXT_S) * rate), int((t + MOUTH_REACH_S) * rate) + 1
        lo = max(lo, 0)
        mouth = mouth_curves(
            local, prosody.loudness(lo, hi), self.fps, 1, first_frame=i, loudness_start=lo
        )
        self._hear_pause(local, t, horizon_s)
        self._brows.hear(local, horizon_s, t, prosody.semitones)
        beats = self._beats.hear(local, horizon_s, prosody.loudness, prosody.semitones)
        for start_s, end_s in stressed_vowels_under_way(
            local, t, horizon_s, prosody.loudness, prosody.semitones
        ):
            self._blinks.avoid(start_s, end_s)
        step = int(t * rate)
        if self.head_motion:
            self._head.hear(beats, t)
            loudness = float(prosody.loudness(step, step + 1)[0])
            semitones = float(prosody.semitones(step, step + 1)[0])
            yaw, pitch, roll = self._head.at(t, loudness, semitones)
        else:
            yaw = pitch = roll = 0.0
        gaze_x, gaze_y = self._gaze.at(t)
        return FaceMotion(
            **{name: float(v[0]) for name, v in mouth.items()},
            blink=self._blinks.closure(t),
            brow_raise=self._brows.raise_at(t),
            gaze_x=gaze_x,
            gaze_y=gaze_y,
            head_yaw_deg=yaw,
            head_pitch_deg=pitch,
            head_roll_deg=roll,
        )

    def _hear_pause(self, local: PhoneTrack, t: float, horizon_s: float) -> None:
        """At the first frame where a pause is sure (long enough to rest the mouth), people
        often blink and sometimes glance away."""
        min_pause_s = T.MIN_SILENCE_FOR_REST_MS / 1000
        for phone in local.phones:
            if phone.start_s > t:
                break
            if (
                not phone.is_silence
                or phone.start_s <= 0
                or phone.start_s <= self._last_pause_s
                or min(phone.end_s, horizon_s) - phone.start_s < min_pause_s
            ):
                continue
            self._last_pause_s = t
            blink, glance, side, seconds = self._pauses.random(4)
            if blink < T.BLINK_AT_PAUSE_PROBABILITY:
                self._blinks.add(t)
            if glance < T.GAZE_AWAY_PROBABILITY:
                self._gaze.glance_away(t, -1.0 if side < 0.5 else 1.0, 0.6 + 0.6 * seconds)


def _heard_by(track: PhoneTrack, horizon_s: float) -> PhoneTrack:
    """The phones as heard up to ``horizon_s``: one still going on then ends there, so a frame
    is made alike whether the rest of the phone is known (a file) or not yet (a stream)."""
    phones = tuple(
        p if p.end_s <= horizon_s else Phone(p.label, p.start_s, horizon_s, p.confidence)
        for p in track.phones
    )
    return PhoneTrack(phones, track.duration_s, track.source)
