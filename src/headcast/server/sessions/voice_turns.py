"""Turn taking on a live microphone: which audio is an utterance, and where it ends.

A level gate on 20 ms-ish frames against an adaptive noise floor: a turn starts after a
short run of loud frames (with the audio just before it, so the first syllable is kept),
carries everything until a pause, and ends after ``pause_ms`` without speech or when the
sender stops sending. Between turns nothing is passed on, so the avatar rests.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

SPEECH_MIN_DBFS = -45.0  # nothing quieter is speech, whatever the floor
SPEECH_ABOVE_FLOOR_DB = 12.0
SPEECH_START_MS = 60.0
PAUSE_MS = 700.0
PREROLL_MS = 300.0
NOISE_FLOOR_START_DBFS = -60.0
NOISE_FLOOR_ADAPT = 0.05  # per quiet frame, exponential
PUSH_EVERY_MS = 100.0  # audio inside a turn is passed on in pieces this long


@dataclass(frozen=True)
class TurnAudio:
    """Audio of a turn to pass on (int16 mono, possibly empty)."""

    samples: np.ndarray
    sample_rate: int
    starts: bool  # the first piece of a new turn
    ends: bool  # the turn is over after these samples


class TurnDetector:
    """Feed microphone frames; get back the pieces of each turn."""

    def __init__(self, pause_ms: float = PAUSE_MS) -> None:
        self.pause_ms = pause_ms
        self.turns = 0
        self._floor_db = NOISE_FLOOR_START_DBFS
        self._rate = 0
        self._before: deque[np.ndarray] = deque()  # the last PREROLL_MS while no turn is open
        self._pending: list[np.ndarray] = []
        self._speaking = False
        self._starts = False
        self._loud_ms = 0.0
        self._quiet_ms = 0.0

    @property
    def speaking(self) -> bool:
        """A turn is open."""
        return self._speaking

    def feed(self, samples: np.ndarray, sample_rate: int) -> list[TurnAudio]:
        """One frame of int16 mono audio."""
        out: list[TurnAudio] = []
        if sample_rate != self._rate:
            out += self.finish()
            self._before.clear()
            self._rate = sample_rate
        frame_ms = 1000.0 * len(samples) / sample_rate
        level = level_dbfs(samples)
        loud = level > max(SPEECH_MIN_DBFS, self._floor_db + SPEECH_ABOVE_FLOOR_DB)
        if not self._speaking:
            if not loud:
                self._floor_db += NOISE_FLOOR_ADAPT * (level - self._floor_db)
            self._before.append(samples)
            while sum(len(b) for b in self._before) - len(self._before[0]) >= (
                PREROLL_MS * sample_rate / 1000
            ):
                self._before.popleft()
            self._loud_ms = self._loud_ms + frame_ms if loud else 0.0
            if self._loud_ms >= SPEECH_START_MS:
                self._speaking, self._starts, self._quiet_ms = True, True, 0.0
                self._pending = list(self._before)
                self._before.clear()
                self.turns += 1
            return out
        self._pending.append(samples)
        self._quiet_ms = 0.0 if loud else self._quiet_ms + frame_ms
        ended = self._quiet_ms >= self.pause_ms
        if ended or self._pending_ms() >= PUSH_EVERY_MS:
            out.append(self._take(ends=ended))
        return out

    def sender_stopped(self) -> list[TurnAudio]:
        """No audio came for ``pause_ms``: the open turn ends."""
        return self.finish()

    def finish(self) -> list[TurnAudio]:
        """End the open turn, if any."""
        return [self._take(ends=True)] if self._speaking else []

    def _pending_ms(self) -> float:
        return 1000.0 * sum(len(p) for p in self._pending) / self._rate

    def _take(self, ends: bool) -> TurnAudio:
        samples = np.concatenate(self._pending) if self._pending else np.zeros(0, np.int16)
        piece = TurnAudio(samples, self._rate, self._starts, ends)
        self._pending, self._starts = [], False
        if ends:
            self._speaking, self._loud_ms = False, 0.0
        return piece


def level_dbfs(samples: np.ndarray) -> float:
    """RMS level of int16 samples in dB below full scale."""
    x = samples.astype(np.float64) / 32768.0
    return float(10.0 * np.log10(np.mean(x * x) + 1e-12)) if len(x) else -120.0
