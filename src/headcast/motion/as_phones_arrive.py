"""The motion of a clip decided while its phones are still being found, a piece at a time.

After each piece the motion is rebuilt from the phones known so far (silence after them) and
the frames that no later phone can change become final (``settled_frames``). They are the
frames ``build_motion`` gives for the whole track, so a video can be rendered from the first
piece on, beside the decoding of the rest, and come out as if it had waited.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

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
    ) -> None:
        self._pieces = pieces
        self._audio = audio
        self._fps = fps
        self._prosody = prosody
        self._seed = seed
        self._head_motion = head_motion
        self._known: list[PhonePiece] = []
        self._motion: MotionTrack | None = None
        self._settled = 0
        self._complete = False
        self.n_frames = frame_count(audio.duration_s, fps)
        self.waited_s = 0.0  # for phones
        self.building_s = 0.0  # the motion, over and over

    def frame(self, index: int) -> FaceMotion:
        while index >= self._settled and not self._complete:
            self._take_piece()
        assert self._motion is not None
        return self._motion.frame(index)

    def track(self) -> PhoneTrack:
        """All the phones (waits for the rest)."""
        while not self._complete:
            self._take_piece()
        return join_pieces(self._known, self._audio.duration_s)

    def motion(self) -> MotionTrack:
        """The motion of every frame (waits for the rest of the phones)."""
        self.track()
        assert self._motion is not None
        return self._motion

    def _take_piece(self) -> None:
        started = time.perf_counter()
        piece = next(self._pieces, None)
        self.waited_s += time.perf_counter() - started
        if piece is None:
            self._complete = True
            self._settled = self.n_frames
            if self._motion is not None:
                return  # the last piece's motion had every phone already
        else:
            self._known.append(piece)
            self._settled = settled_frames(piece.end_s, self._fps)
        started = time.perf_counter()
        self._motion = build_motion(
            join_pieces(self._known, self._audio.duration_s),
            self._audio,
            self._fps,
            seed=self._seed,
            head_motion=self._head_motion,
            prosody=self._prosody,
        )
        self.building_s += time.perf_counter() - started
