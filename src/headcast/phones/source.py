"""Phone sources: where the phones of speech come from while the speech is being heard.

Every way of knowing the phones — recognition of a live stream (``PhoneStream``), a track
known beforehand (a synthesizer's own events), forced alignment or recognition a piece of a
clip at a time — hands them to the motion the same way: audio is pushed as it is heard, and
the source says up to when its phones are known and gives the phones of any span.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.phones.pieces import PhonePiece, join_pieces
from headcast.phones.track import PhoneTrack


class PhoneSource(Protocol):
    """The phones of 16 kHz mono speech, known a little at a time."""

    @property
    def known_s(self) -> float:
        """Phones before this time are as known as they will be for now."""
        ...

    @property
    def complete(self) -> bool:
        """Every phone is known (the audio has ended and the source is done with it)."""
        ...

    def push(self, samples: np.ndarray) -> None:
        """Audio as it is heard (float32)."""

    def finish(self) -> None:
        """No more audio will come."""

    def wait(self) -> None:
        """Block until more is known, or the source is complete."""

    def track(self, since_s: float, until_s: float) -> PhoneTrack:
        """The phones overlapping ``(since_s, until_s)``."""
        ...

    def close(self) -> None:
        """Let go of what the source holds (safe to repeat)."""


class KnownPhones:
    """A track known beforehand (speech synthesis): known as far as the audio heard."""

    def __init__(self, track: PhoneTrack) -> None:
        self._track = track
        self._heard = 0
        self._finished = False

    @property
    def known_s(self) -> float:
        if self._finished:
            return self._track.duration_s
        return min(self._heard / ANALYSIS_SAMPLE_RATE_HZ, self._track.duration_s)

    @property
    def complete(self) -> bool:
        return self._finished

    def push(self, samples: np.ndarray) -> None:
        self._heard += len(samples)

    def finish(self) -> None:
        self._finished = True

    def wait(self) -> None:
        return None

    def track(self, since_s: float, until_s: float) -> PhoneTrack:
        return self._track.between(since_s, until_s)

    def close(self) -> None:
        return None


class PhonesInPieces:
    """Phones found a piece of a clip at a time (``phones_in_pieces``, or a worker's): known
    up to the end of the last piece in; ``wait`` takes the next."""

    def __init__(self, pieces: Iterator[PhonePiece], duration_s: float) -> None:
        self._pieces = pieces
        self._duration_s = duration_s
        self._known: list[PhonePiece] = []
        self._joined = join_pieces([], duration_s)
        self._complete = False

    @property
    def known_s(self) -> float:
        if self._complete:
            return self._duration_s
        return self._known[-1].end_s if self._known else 0.0

    @property
    def complete(self) -> bool:
        return self._complete

    def push(self, samples: np.ndarray) -> None:
        return None  # the pieces come from the whole clip, given beforehand

    def finish(self) -> None:
        return None

    def wait(self) -> None:
        piece = next(self._pieces, None)
        if piece is None:
            self._complete = True
            return
        self._known.append(piece)
        self._joined = join_pieces(self._known, self._duration_s)

    def track(self, since_s: float, until_s: float) -> PhoneTrack:
        return self._joined.between(since_s, until_s)

    def close(self) -> None:
        close = getattr(self._pieces, "close", None)
        if close is not None:
            close()
