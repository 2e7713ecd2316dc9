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
    strength: float  # 0 … 1: how far the vowel stands out (see ``stress``)
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
            strength = stress(phone.start_s, phone.end_s, loudness, semitones)
            if strength > 0:
                beats.append(Beat(phone.start_s, phone.end_s, strength))
        return beats


def stressed_vowels_under_way(
    track: PhoneTrack, now_s: float, heard_s: float, loudness: StepsOf, semitones: StepsOf
) -> list[tuple[float, float]]:
    """(start, end) of the vowels between ``now_s`` and ``heard_s`` that stand out so far, a
    vowel still going on ending at ``heard_s``: what a blink starting now would land on."""
    return [
        (phone.start_s, min(phone.end_s, heard_s))
        for phone in track.phones
        if phone.label in VOWELS
        and phone.end_s > now_s
        and phone.start_s < heard_s
        and stress(phone.start_s, min(phone.end_s, heard_s), loudness, semitones) > 0
    ]


def stress(start_s: float, end_s: float, loudness: StepsOf, semitones: StepsOf) -> float:
    """How far a vowel stands out, 0 (not at all) … 1: loud, and pitched above the speaker's
    usual (most vowels of running speech are near the loud level; pitch marks the stress)."""
    rate = T.CURVE_RATE_HZ
    a = int(start_s * rate)
    b = max(int(end_s * rate), a + 1)
    loud = float(np.max(loudness(a, b)))
    pitch = float(np.max(semitones(a, b)))
    if loud < T.BEAT_MIN_LOUDNESS or pitch < T.BEAT_MIN_SEMITONES:
        return 0.0
    return float(min(0.5 + 0.5 * (pitch - T.BEAT_MIN_SEMITONES) / T.BEAT_MIN_SEMITONES, 1.0))
