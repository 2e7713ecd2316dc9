"""The Engine contract: an engine declares what it can do and starts one session per avatar.

What a session is handed per frame depends on the engine's kind (``capabilities.kind``):

- motion-driven: ``EngineSession.render(FaceMotion)`` returns the frame;
- audio-driven: ``AudioEngineSession.render(FrameAudio)`` returns the frame drawn from that
  frame's speech (and the look-ahead the engine declared);
- remote: ``RemoteEngineSession.submit(request)`` hands over a FaceMotion or a FrameAudio
  (``capabilities.remote_input``) and returns a future that another thread completes with
  the frame, about ``capabilities.frame_latency_ms`` later.

Frames are H×W×3 uint8 RGB, the avatar's size. Calls come from one thread at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from typing import Protocol, TypeVar, runtime_checkable

import numpy as np

from headcast.face.avatar import Avatar
from headcast.motion.face_motion import FaceMotion
from headcast.render.capabilities import EngineCapabilities
from headcast.render.frame_audio import FrameAudio

FrameRequest = FaceMotion | FrameAudio


class EngineSession(Protocol):
    """One avatar being rendered by a motion-driven engine: a frame per FaceMotion."""

    def render(self, motion: FaceMotion) -> np.ndarray: ...

    def close(self) -> None: ...


@runtime_checkable
class PlanningSession(Protocol):
    """A motion-driven session that draws better for seeing frames coming: a file's renderer
    hands it the FaceMotion of the frames about to be rendered, in order, as they become
    known; ``render`` is then called with those same objects. A live session is never
    handed any."""

    def plan(self, motions: Sequence[FaceMotion]) -> None: ...


class AudioEngineSession(Protocol):
    """One avatar being rendered by an audio-driven engine: a frame per frame of speech."""

    def render(self, audio: FrameAudio) -> np.ndarray: ...

    def close(self) -> None: ...


class RemoteEngineSession(Protocol):
    """One avatar rendered on another host: requests go out, frames come back later."""

    def submit(self, request: FrameRequest) -> Future[np.ndarray]:
        """Send one frame's input; the future gets its frame (or the error that befell it).
        Frames may come back in any order; cancelling a future says it is no longer wanted."""
        ...

    def close(self) -> None: ...


SessionT_co = TypeVar("SessionT_co", covariant=True)


class Engine(Protocol[SessionT_co]):
    """A renderer found by name; ``capabilities`` is readable without starting it."""

    name: str
    capabilities: EngineCapabilities

    def start(self, avatar: Avatar) -> SessionT_co: ...


MotionEngine = Engine[EngineSession]
AudioEngine = Engine[AudioEngineSession]
RemoteEngine = Engine[RemoteEngineSession]
