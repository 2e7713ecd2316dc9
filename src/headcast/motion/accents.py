"""Stressed syllables and phrase starts, found as the phones become known: the beats that a
speaker's head marks with nods and turns, and that a blink stays clear of."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.visemes import VOWELS
from headcast.phones.track import PhoneTrack

StepsOf = Callable[[int, int], np.ndarray]  # a prosody curve's 10 ms steps start … stop - 1


@dataclass(frozen=True)
class Beat:
    """A stressed vowel (``strength`` > 0) or the start of a phrase (``phrase_start``)."""

    start_s: float
    end_s: float
    strength: float  # 0 … 1: how far the vowel's loudness or pitch stands out
    phrase_start: bool = False


class BeatFinder:
    """Beats of the speech heard so far, each reported once, in time order."""

    def __init__(self) -> None:
        self._last_s = -1.0  # start of the last phone looked at
        self._silence_since_s: float | None = 0.0  # the segment begins as after a pause

    def hear(
        self, track: PhoneTrack, heard_s: float, loudness: StepsOf, semitones: StepsOf
    ) -> list[Beat]:
        """The beats among the phones complete by ``heard_s`` not reported before."""
        rate = T.CURVE_RATE_HZ
        beats: list[Beat] = []
        for phone in track.phones:
            if phone.start_s <= self._last_s:
                continue
            if phone.end_s > heard_s:
                break
            self._last_s = phone.start_s
            if phone.is_silence:
                if phone.end_s - phone.start_s >= T.MIN_SILENCE_FOR_REST_MS / 1000:
                    self._silence_since_s = phone.start_s
                continue
            if self._silence_since_s is not None:
                beats.append(Beat(phone.start_s, phone.end_s, 0.0, phrase_start=True))
                self._silence_since_s = None
            if phone.label not in VOWELS:
                continue
            a = int(phone.start_s * rate)
            b = max(int(phone.end_s * rate), a + 1)
            loud = float(np.max(loudness(a, b)))
            pitch = float(np.max(semitones(a, b)))
            strength = max(
                (loud - T.BEAT_MIN_LOUDNESS) / (1.0 - T.BEAT_MIN_LOUDNESS),
                (pitch - T.BEAT_MIN_SEMITONES) / T.BEAT_MIN_SEMITONES,
            )
            if strength > 0:
                beats.append(Beat(phone.start_s, phone.end_s, min(strength, 1.0)))
        return beats
