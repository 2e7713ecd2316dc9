"""The speech a live session has queued ahead of playback, bounded in seconds of audio.

Audio pushed into a session is held (and analysed) until the frames that play it are passed on;
a client pushing faster than real time would otherwise grow the session process without limit.
Each turn (the audio between two segment ends) is charged what was pushed into it, at least one
frame, less what its speaking frames have played; a finished turn is no longer charged.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


class BacklogFull(Exception):
    """A push that would take the queued speech past the session's limit (refused whole)."""

    def __init__(self, queued_s: float, pushed_s: float, limit_s: float) -> None:
        self.queued_s = queued_s
        self.pushed_s = pushed_s
        self.limit_s = limit_s
        super().__init__(
            f"the session has {queued_s:.1f} s of speech queued; {pushed_s:.1f} s more would "
            f"exceed the limit of {limit_s:g} s"
        )

    @property
    def retry_after_s(self) -> int:
        """Seconds of playback until the push fits (at least 1)."""
        return max(1, math.ceil(self.queued_s + self.pushed_s - self.limit_s))

    @property
    def ever_fits(self) -> bool:
        return self.pushed_s <= self.limit_s


@dataclass
class _Turn:
    pushed_s: float = 0.0
    played_s: float = 0.0
    open: bool = True

    def charge(self, min_s: float) -> float:
        return max(0.0, max(self.pushed_s, min_s) - self.played_s)


class AudioBacklog:
    """Seconds of speech pushed and not yet played, per turn, against ``limit_s``."""

    def __init__(self, limit_s: float, frame_s: float) -> None:
        self.limit_s = limit_s
        # A turn costs a frame however short: tiny turns cannot pile up for free.
        self._min_turn_s = frame_s
        self._turns: deque[_Turn] = deque()
        self._queued_s = 0.0

    @property
    def queued_s(self) -> float:
        return max(0.0, self._queued_s)

    def admit(self, duration_s: float) -> None:
        """Count ``duration_s`` more into the open turn, or raise ``BacklogFull``."""
        turn = self._turns[-1] if self._turns and self._turns[-1].open else None
        before = turn.charge(self._min_turn_s) if turn is not None else 0.0
        pushed = (turn.pushed_s if turn is not None else 0.0) + duration_s
        after = max(0.0, max(pushed, self._min_turn_s) - (turn.played_s if turn else 0.0))
        if self.queued_s + after - before > self.limit_s + 1e-9:
            raise BacklogFull(self.queued_s, duration_s, self.limit_s)
        if turn is None:
            turn = _Turn()
            self._turns.append(turn)
        turn.pushed_s = pushed
        self._queued_s += after - before

    def check_room(self, duration_s: float) -> None:
        """Raise ``BacklogFull`` unless ``duration_s`` more speech would fit now."""
        if self.queued_s + duration_s > self.limit_s + 1e-9:
            raise BacklogFull(self.queued_s, duration_s, self.limit_s)

    def end_turn(self) -> None:
        if self._turns and self._turns[-1].open:
            self._turns[-1].open = False

    def played(self, duration_s: float) -> None:
        """A speaking frame of the oldest turn was passed on, playing ``duration_s``."""
        if not self._turns:
            return
        turn = self._turns[0]
        before = turn.charge(self._min_turn_s)
        turn.played_s += duration_s
        self._queued_s += turn.charge(self._min_turn_s) - before

    def turn_done(self) -> None:
        """The oldest turn has been shown to its end."""
        if self._turns:
            self._queued_s -= self._turns.popleft().charge(self._min_turn_s)
        if not self._turns:
            self._queued_s = 0.0  # no rounding left over

    def clear(self) -> None:
        """An interrupt dropped everything queued."""
        self._turns.clear()
        self._queued_s = 0.0
