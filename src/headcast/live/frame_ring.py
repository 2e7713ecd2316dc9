"""A session's frames in shared memory: its session process draws them, the pool copies them out.

Frames never travel through the channel: a message names the slot. The pool grants the session
process a credit per free slot, so a frame is never overwritten before the pool has copied it
and the session process never runs ahead of a slow consumer.
"""

from __future__ import annotations

import contextlib
from multiprocessing.shared_memory import SharedMemory

import numpy as np

FRAME_SLOTS = 4  # frames a session may have rendered and not yet taken by its transport


class FrameRing:
    """``FRAME_SLOTS`` frames of one avatar's size, shared between two processes."""

    def __init__(self, memory: SharedMemory, size_px: int) -> None:
        self._memory = memory
        self.frames: np.ndarray = np.ndarray(
            (FRAME_SLOTS, size_px, size_px, 3), np.uint8, buffer=memory.buf
        )

    @classmethod
    def create(cls, size_px: int) -> FrameRing:
        return cls(SharedMemory(create=True, size=FRAME_SLOTS * size_px * size_px * 3), size_px)

    @classmethod
    def attach(cls, name: str, size_px: int) -> FrameRing:
        return cls(SharedMemory(name=name), size_px)

    @property
    def name(self) -> str:
        return self._memory.name

    def close(self, *, unlink: bool) -> None:
        """Let go of the memory here; ``unlink`` frees it once no process has it open (its
        creator unlinks it, or the pool when the creator has died)."""
        self.frames = np.empty((0, 0, 0, 3), np.uint8)  # the view must go before the memory
        self._memory.close()
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                self._memory.unlink()
