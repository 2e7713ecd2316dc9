"""The motion of a clip decided while its phones are still being found, a piece at a time.

After each piece the motion is rebuilt from the phones known so far (silence after them) and
the frames that no later phone can change become final (``settled_frames``). They are the
frames ``build_motion`` gives for the whole track, so a video can be rendered from the first
piece on, beside the decoding of the rest, and come out as if it had waited.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from headcast.audio.clip import Audio
from headcast.motion.build import build_motion, frame_count, settled_frames
from headcast.motion.face_motion import FaceMotion, MotionTrack
from headcast.motion.prosody import Prosody
from headcast.phones.pieces import PhonePiece, join_pieces
from headcast.phones.track import PhoneTrack


class MotionAsPhonesArrive:
    """``frame(i)`` waits for as many pieces of the phones as frame ``i`` needs."""

    def __init__(
        self,
        pieces: Iterator[PhonePiece],
        audio: Audio,
        fps: float,
        prosody: Prosody,
        *,
        seed: int = 0,
        head_motion: bool = True,
        arrived: Callable[[], bool] | None = None,
    ) -> None:
        """``arrived`` tells whether the next piece (or the end) can be taken without waiting:
        all those are taken at once, so that the motion is rebuilt once for them."""
        self._pieces = pieces
        # Only its length: the speech itself is the largest thing a long clip's render holds.
        self._duration_s = audio.duration_s
        self._fps = fps
        self._prosody = prosody
        self._seed = seed
        self._head_motion = head_motion
        self._arrived = arrived
        self._known: list[PhonePiece] = []
        self._motion: MotionTrack | None = None
        self._settled = 0
        self._complete = False
        self.n_frames = frame_count(audio.duration_s, fps)
        self.waited_s = 0.0  # for phones
        self.building_s = 0.0  # the motion, over and over

    def frame(self, index: int) -> FaceMotion:
        if index >= self._settled and not self._complete:
            self._take_pieces(index)
        assert self._motion is not None
        return self._motion.frame(index)

    def track(self) -> PhoneTrack:
        """All the phones (waits for the rest)."""
        if not self._complete:
            self._take_pieces(self.n_frames)
        return join_pieces(self._known, self._duration_s)

    def motion(self) -> MotionTrack:
        """The motion of every frame (waits for the rest of the phones)."""
        self.track()
        assert self._motion is not None
        return self._motion

    def _take_pieces(self, index: int) -> None:
        """Wait for the pieces frame ``index`` needs, take those that came meanwhile too, and
        rebuild the motion from all the phones known."""
        settled, new = self._settled, False
        while not self._complete and (
            index >= settled or (self._arrived is not None and self._arrived())
        ):
            started = time.perf_counter()
            piece = next(self._pieces, None)
            self.waited_s += time.perf_counter() - started
            if piece is None:
                self._complete = True
                settled = self.n_frames
            else:
                self._known.append(piece)
                settled, new = settled_frames(piece.end_s, self._fps), True
        if new or self._motion is None:
            started = time.perf_counter()
            self._motion = build_motion(
                join_pieces(self._known, self._duration_s),
                None,
                self._fps,
                seed=self._seed,
                head_motion=self._head_motion,
                prosody=self._prosody,
            )
            self.building_s += time.perf_counter() - started
        self._settled = settled
