"""Speech as it arrives → what an engine is fed per frame, one segment of speech at a time.

A motion-driven engine (or a remote one fed motion) gets FaceMotion from live lip-sync; an
audio-driven one (or a remote one fed audio) gets each frame's own speech with its declared
look-ahead. Either way frames come out in order, each final once its input is complete.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from headcast.motion.live import LiveLipSync
from headcast.render.capabilities import EngineCapabilities, EngineInput
from headcast.render.engine import FrameRequest
from headcast.render.frame_audio import FrameAudioWindows


class SpeechFeed(Protocol):
    """One segment's speech in (float32 mono, any rate), each frame's engine input out."""

    @property
    def frames_emitted(self) -> int: ...

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> list[FrameRequest]: ...

    def emit_now(self, n_frames: int) -> list[FrameRequest]: ...

    def finish(self) -> list[FrameRequest]: ...

    def close(self) -> None: ...


class MotionFeed:
    """FaceMotion per frame, from live lip-sync."""

    def __init__(self, lipsync: LiveLipSync) -> None:
        self._lipsync = lipsync

    @property
    def frames_emitted(self) -> int:
        return self._lipsync.frames_emitted

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> list[FrameRequest]:
        return [m for _, m in self._lipsync.push_audio(samples, sample_rate)]

    def emit_now(self, n_frames: int) -> list[FrameRequest]:
        return [m for _, m in self._lipsync.emit_now(n_frames)]

    def finish(self) -> list[FrameRequest]:
        return [m for _, m in self._lipsync.finish()]

    def close(self) -> None:
        self._lipsync.close()


class AudioFeed:
    """Each frame's own speech plus look-ahead, at the engine's rate."""

    def __init__(self, windows: FrameAudioWindows) -> None:
        self._windows = windows

    @property
    def frames_emitted(self) -> int:
        return self._windows.frames_emitted

    def push_audio(self, samples: np.ndarray, sample_rate: int) -> list[FrameRequest]:
        return list(self._windows.push_audio(samples, sample_rate))

    def emit_now(self, n_frames: int) -> list[FrameRequest]:
        return list(self._windows.emit_now(n_frames))

    def finish(self) -> list[FrameRequest]:
        return list(self._windows.finish())

    def close(self) -> None:
        self._windows.close()


def speech_feed(
    capabilities: EngineCapabilities,
    *,
    segment: int,
    fps: float,
    lookahead_ms: float,
    seed: int,
    head_motion: float,
    fast_phones: bool = True,
) -> SpeechFeed:
    """The feed for one segment of speech to an engine with these capabilities.

    ``lookahead_ms`` is the lip-sync's; an audio-fed engine's look-ahead is its own.
    ``head_motion`` is the head's intensity, 0 (still) to 1, for the motion-fed engines.
    ``fast_phones`` recognizes the phones with the cheaper recognizer (a file's motion uses
    the accurate one).
    """
    if capabilities.input is EngineInput.AUDIO:
        assert capabilities.audio_rate_hz is not None
        return AudioFeed(
            FrameAudioWindows(
                fps, capabilities.audio_rate_hz, capabilities.audio_lookahead_ms, segment
            )
        )
    return MotionFeed(
        LiveLipSync(
            fps, lookahead_ms=lookahead_ms, seed=seed, head_motion=head_motion, fast=fast_phones
        )
    )
