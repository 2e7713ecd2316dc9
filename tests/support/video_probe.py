"""What a returned video holds: its container, codecs, size, frames and audio, all decoded."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import av
import numpy as np


@dataclass
class VideoProbe:
    container: str
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    frames: int
    frame_rate: float
    audio_duration_s: float
    middle_frame: np.ndarray = field(repr=False)  # RGB

    @property
    def video_duration_s(self) -> float:
        return self.frames / self.frame_rate


def probe_video(data: bytes) -> VideoProbe:
    """Decode every frame and all the audio of a video file."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
        rate = float(video.average_rate or video.guessed_rate)
        fmt = container.format.name
        vcodec, width, height = video.codec_context.name, video.width, video.height
    with av.open(io.BytesIO(data)) as container:
        audio_codec, samples, rate_hz = None, 0, 1
        if container.streams.audio:
            stream = container.streams.audio[0]
            audio_codec, rate_hz = stream.codec_context.name, stream.rate
            samples = sum(f.samples for f in container.decode(stream))
    return VideoProbe(
        fmt, vcodec, audio_codec, width, height, len(frames), rate,
        samples / rate_hz, frames[len(frames) // 2],
    )  # fmt: skip
