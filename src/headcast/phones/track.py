"""The PhoneTrack: what is said, and when."""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from headcast.phones.coverage import TranscriptCoverage

SILENCE = "SIL"


@dataclass(frozen=True)
class Phone:
    """One ARPAbet phone (stress removed, upper case; ``SIL`` for silence) with its time span."""

    label: str
    start_s: float
    end_s: float
    confidence: float = 1.0

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def is_silence(self) -> bool:
        return self.label == SILENCE


@dataclass(frozen=True)
class PhoneTrack:
    """Phones in time order, covering ``[0, duration_s]`` without gaps or overlaps."""

    phones: tuple[Phone, ...]
    duration_s: float
    source: str  # "alignment", "recognition", "synthesis", "guided" or "mixed"
    # With a transcript: how much of the speech it placed (None without one). Not compared:
    # tracks with the same phones are equal however they were found.
    coverage: TranscriptCoverage | None = field(default=None, compare=False)

    def between(self, since_s: float, until_s: float) -> PhoneTrack:
        """The phones that overlap ``(since_s, until_s)``, on the same timeline."""
        first = bisect.bisect_right(self.phones, since_s, key=lambda p: p.end_s)
        stop = bisect.bisect_left(self.phones, until_s, key=lambda p: p.start_s)
        return PhoneTrack(self.phones[first:stop], self.duration_s, self.source, self.coverage)

    def at(self, time_s: float) -> Phone | None:
        """The phone spanning ``time_s``, or None outside the track."""
        lo, hi = 0, len(self.phones)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.phones[mid].end_s <= time_s:
                lo = mid + 1
            else:
                hi = mid
        if lo < len(self.phones) and self.phones[lo].start_s <= time_s:
            return self.phones[lo]
        return None
