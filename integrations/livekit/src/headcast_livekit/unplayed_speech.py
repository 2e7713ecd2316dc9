"""The speech sent to the server that has not yet come back with a frame: what the agent
would never be heard saying if the server went away now."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TurnEnd:
    """Marks where a turn's speech ended in the unplayed queue."""


class UnplayedSpeech:
    """A queue of int16 mono chunks at ``rate_hz`` with turn ends between them. Speaking
    frames take from its head as they come back; a finished turn takes through its end."""

    def __init__(self, rate_hz: int) -> None:
        self.rate_hz = rate_hz
        self._items: deque[np.ndarray | TurnEnd] = deque()
        self._owed_samples = 0.0  # fractions of a sample taken but not yet removed

    def add(self, pcm: np.ndarray) -> None:
        if len(pcm):
            self._items.append(pcm)

    def end_turn(self) -> None:
        self._items.append(TurnEnd())

    def played(self, samples: int, at_rate_hz: int) -> None:
        """``samples`` at ``at_rate_hz`` have come back with a speaking frame. Never takes a
        turn end: a last frame's padding does not eat into the next turn."""
        self._owed_samples += samples * self.rate_hz / at_rate_hz
        while self._items and self._owed_samples >= 1.0:
            head = self._items[0]
            if isinstance(head, TurnEnd):
                break
            taken = min(len(head), int(self._owed_samples))
            self._owed_samples -= taken
            if taken == len(head):
                self._items.popleft()
            else:
                self._items[0] = head[taken:]
        if self._items and isinstance(self._items[0], TurnEnd):
            self._owed_samples = 0.0

    def turn_finished(self) -> None:
        """The server finished a turn: drop what is left of it, and its end."""
        while self._items:
            if isinstance(self._items.popleft(), TurnEnd):
                break
        self._owed_samples = 0.0

    def clear(self) -> None:
        self._items.clear()
        self._owed_samples = 0.0

    def take_all(self) -> list[np.ndarray | TurnEnd]:
        items = list(self._items)
        self.clear()
        return items

    @property
    def duration_s(self) -> float:
        samples = sum(len(i) for i in self._items if not isinstance(i, TurnEnd))
        return samples / self.rate_hz
