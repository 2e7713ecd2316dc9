"""What an engine needs and what it can do, declared once so every caller can check before use.

Three kinds of engine take different inputs: a motion-driven one draws a frame from a
``FaceMotion``; an audio-driven one hears each frame's speech itself (at its own rate, with
the look-ahead it needs); a remote one is fed either of those and hands its frames back from
another host after a declared latency.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from headcast.errors import InputError
from headcast.limits import MAX_FPS, MAX_SIZE_PX, MIN_FPS, MIN_SIZE_PX


class EngineKind(StrEnum):
    MOTION = "motion"  # draws each frame from a FaceMotion, in this process
    AUDIO = "audio"  # draws each frame from that frame's speech, in this process
    REMOTE = "remote"  # frames made on another host and handed back later


class EngineInput(StrEnum):
    """What each frame is made from."""

    MOTION = "motion"
    AUDIO = "audio"


@dataclass(frozen=True)
class EngineCapabilities:
    """An engine's needs and abilities.

    Sizes are the side of the square output in pixels; an engine that renders one size only
    gives it as both bounds. ``first_frame_latency_ms`` is the time from the first input
    handed to a started session to its frame, for callers to report or plan. A remote
    engine's ``frame_latency_ms`` is how long a frame takes to come back once its input has
    been handed over: sessions request frames that far ahead of showing them.
    """

    kind: EngineKind
    min_size_px: int = MIN_SIZE_PX
    max_size_px: int = MAX_SIZE_PX
    min_fps: float = MIN_FPS
    max_fps: float = MAX_FPS
    live: bool = True
    first_frame_latency_ms: float = 0.0
    # What a remote engine is fed; a local engine's input follows from its kind.
    remote_input: EngineInput | None = None
    # Audio-driven input: the rate of the mono float32 samples it is handed and how much
    # speech past each frame it needs before that frame can be drawn.
    audio_rate_hz: int | None = None
    audio_lookahead_ms: float = 0.0
    frame_latency_ms: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if (self.kind is EngineKind.REMOTE) != (self.remote_input is not None):
            raise ValueError("remote_input is given by remote engines and by them only")
        if self.input is EngineInput.AUDIO and not self.audio_rate_hz:
            raise ValueError("an engine fed audio declares audio_rate_hz")
        if self.input is EngineInput.MOTION and self.audio_rate_hz is not None:
            raise ValueError("an engine fed FaceMotion takes no audio rate")
        if self.kind is not EngineKind.REMOTE and self.frame_latency_ms:
            raise ValueError("only a remote engine hands frames back after a frame latency")
        if not 0 < self.min_size_px <= self.max_size_px:
            raise ValueError("sizes must be positive, min_size_px <= max_size_px")
        if not 0 < self.min_fps <= self.max_fps:
            raise ValueError("frame rates must be positive, min_fps <= max_fps")
        if min(self.audio_lookahead_ms, self.frame_latency_ms, self.first_frame_latency_ms) < 0:
            raise ValueError("latencies and look-ahead cannot be negative")

    @property
    def input(self) -> EngineInput:
        if self.remote_input is not None:
            return self.remote_input
        return EngineInput.AUDIO if self.kind is EngineKind.AUDIO else EngineInput.MOTION

    def refusal(self, *, size_px: int, fps: float, live: bool) -> str | None:
        """Why this engine cannot render ``size_px`` squares at ``fps`` (live or not), or None."""
        if not self.min_size_px <= size_px <= self.max_size_px:
            sizes = (
                f"{self.min_size_px} px"
                if self.min_size_px == self.max_size_px
                else f"{self.min_size_px}–{self.max_size_px} px"
            )
            return f"renders {sizes} only, not {size_px} px"
        if not self.min_fps <= fps <= self.max_fps:
            return f"renders {self.min_fps:g}–{self.max_fps:g} fps only, not {fps:g}"
        if live and not self.live:
            return "cannot render live (it is not fast or steady enough): use it for files"
        return None

    def check(self, name: str, *, size_px: int, fps: float, live: bool) -> None:
        """Raise InputError naming the engine when it cannot do what is asked."""
        why = self.refusal(size_px=size_px, fps=fps, live=live)
        if why is not None:
            raise InputError(f"engine '{name}' {why}")

    def as_dict(self) -> dict[str, object]:
        """Plain values, for listings (CLI, JSON)."""
        out: dict[str, object] = {
            "kind": str(self.kind),
            "input": str(self.input),
            "sizes_px": [self.min_size_px, self.max_size_px],
            "fps": [self.min_fps, self.max_fps],
            "live": self.live,
            "first_frame_latency_ms": self.first_frame_latency_ms,
        }
        if self.input is EngineInput.AUDIO:
            out["audio_rate_hz"] = self.audio_rate_hz
            out["audio_lookahead_ms"] = self.audio_lookahead_ms
        if self.kind is EngineKind.REMOTE:
            out["frame_latency_ms"] = self.frame_latency_ms
        if self.description:
            out["description"] = self.description
        return out
