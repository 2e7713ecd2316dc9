"""Brows rise briefly on accented syllables: vowels whose pitch peaks above the speaker's norm."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from headcast.motion import tunables as T
from headcast.motion.visemes import VOWELS
from headcast.phones.track import PhoneTrack

SemitonesOf = Callable[[int, int], np.ndarray]  # pitch of 10 ms steps start … stop - 1


class BrowAccents:
    """Accents found as the vowels become known; frames are asked for in time order."""

    def __init__(self) -> None:
        self._accents: list[tuple[float, float, float]] = []  # rise start, peak time, strength
        self._last_vowel_s = -1.0  # middle of the last vowel looked at

    def hear(self, track: PhoneTrack, known_s: float, now_s: float, semitones: SemitonesOf) -> None:
        """Look at the vowels complete by ``known_s``; an accent found after its rise should
        have begun rises from ``now_s``, in the time a rise takes."""
        rate = T.CURVE_RATE_HZ
        for phone in track.phones:
            middle = 0.5 * (phone.start_s + phone.end_s)
            if phone.label not in VOWELS or middle <= self._last_vowel_s:
                continue
            if phone.end_s > known_s:
                break
            self._last_vowel_s = middle
            a = int(phone.start_s * rate)
            peak = float(np.max(semitones(a, max(int(phone.end_s * rate), a + 1))))
            if peak < T.BROW_ACCENT_MIN_SEMITONES:
                continue
            if self._accents and middle - self._accents[-1][1] < T.BROW_MIN_GAP_S:
                continue
            strength = min(peak / (2 * T.BROW_ACCENT_MIN_SEMITONES), 1.0)
            # Found late (a short look-ahead), it still takes its whole rise, from now.
            rise_start = max(middle - T.BROW_RISE_MS / 1000, now_s)
            self._accents.append((rise_start, rise_start + T.BROW_RISE_MS / 1000, strength))
        del self._accents[:-2]  # accents are far enough apart that two cover any moment

    def raise_at(self, t: float) -> float:
        fall = T.BROW_FALL_MS / 1000
        value = 0.0
        for rise_start, peak_s, strength in self._accents:
            if t < rise_start or t > peak_s + fall:
                continue
            if t < peak_s:
                shape = (t - rise_start) / (peak_s - rise_start)
            else:
                shape = 1.0 - (t - peak_s) / fall
            value = max(value, T.BROW_RAISE_MAX * strength * shape)
        return float(value)
