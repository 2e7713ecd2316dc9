"""Reading a video of a person: its frames one at a time, its rate and length, its audio."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio
from headcast.audio.decode import load_audio
from headcast.errors import InputError
from headcast.limits import MAX_FPS

# Frames bigger than this are refused before decoding: 8K is more than any camera clip.
MAX_FRAME_SIDE_PX = 7680


@dataclass(frozen=True)
class VideoInfo:
    name: str
    width: int
    height: int
    fps: float
    duration_s: float
    has_audio: bool


class VideoClip:
    """A video file or its bytes, opened again for every pass over its frames."""

    def __init__(self, source: str | Path | bytes, *, max_duration_s: float) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            self._data: bytes | None = bytes(source)
            self._path: Path | None = None
            name = f"the video data ({len(self._data)} bytes)"
            if not self._data:
                raise InputError(f"{name} is empty")
        else:
            self._data, self._path = None, Path(source)
            name = f"video '{self._path}'"
            if not self._path.is_file():
                problem = "no such file" if not self._path.exists() else "not a file"
                raise InputError(f"{name}: {problem}")
        self.max_duration_s = max_duration_s
        self.info = self._probe(name)

    def _open(self) -> av.container.InputContainer:
        opener = io.BytesIO(self._data) if self._data is not None else f"file:{self._path}"
        try:
            return av.open(opener, mode="r")
        except (av.error.FFmpegError, OSError):
            raise InputError(f"{self.info_name}: not a video (format not recognised)") from None

    @property
    def info_name(self) -> str:
        return f"video '{self._path}'" if self._path is not None else "the video data"

    def _probe(self, name: str) -> VideoInfo:
        with self._open() as container:
            if not container.streams.video:
                raise InputError(f"{name}: no video stream (is it an audio file?)")
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if not (0 < width <= MAX_FRAME_SIDE_PX and 0 < height <= MAX_FRAME_SIDE_PX):
                raise InputError(f"{name}: frames of {width}×{height} px are not accepted")
            rate = stream.average_rate or stream.guessed_rate
            fps = float(rate) if rate else 0.0
            if not 1.0 <= fps <= 2 * MAX_FPS:
                raise InputError(f"{name}: cannot tell its frame rate")
            duration_s = _duration_s(container, stream)
            if duration_s > self.max_duration_s:
                raise InputError(
                    f"{name} is {duration_s:.0f} s long; at most {self.max_duration_s:.0f} s "
                    "can be enrolled (cut it, or raise the limit)"
                )
            return VideoInfo(name, width, height, fps, duration_s, bool(container.streams.audio))

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame as H×W×3 uint8 RGB; a clip that turns out longer than allowed stops
        with an InputError when decoding passes the limit."""
        limit = int(self.max_duration_s * self.info.fps) + 1
        with self._open() as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            try:
                for count, frame in enumerate(container.decode(stream)):
                    if count >= limit:
                        raise InputError(
                            f"{self.info.name} runs past {self.max_duration_s:.0f} s; "
                            "at most that can be enrolled"
                        )
                    yield frame.to_ndarray(format="rgb24")
            except av.error.FFmpegError as exc:
                raise InputError(f"{self.info.name}: damaged video ({exc})") from None

    def audio(self) -> Audio | None:
        """The soundtrack at the analysis rate, or None when there is none."""
        if not self.info.has_audio:
            return None
        source = self._data if self._data is not None else self._path
        assert source is not None
        return load_audio(
            source, sample_rate=ANALYSIS_SAMPLE_RATE_HZ, max_duration_s=self.max_duration_s + 1
        )


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    if stream.frames:
        return stream.frames / float(stream.average_rate or 25)
    return 0.0
