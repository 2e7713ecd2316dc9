"""Read a rendered video back for judging: RGB frames, frame rate, 16 kHz mono audio."""

from __future__ import annotations

from collections.abc import Iterator
from os import PathLike
from typing import NamedTuple

import av
import numpy as np
import soxr

JUDGE_SAMPLE_RATE_HZ = 16_000


class VideoData(NamedTuple):
    """A decoded video; unpacks as ``frames, fps, audio, duration``.

    ``frames`` are (H, W, 3) uint8 RGB; frame ``i`` shows time ``i / fps``. ``audio`` is mono
    float32 at 16 kHz whose sample 0 is the time of the first video frame (empty without an
    audio stream). ``duration`` is the video stream's length in seconds.
    """

    frames: list[np.ndarray] | Iterator[np.ndarray]
    fps: float
    audio: np.ndarray
    duration: float


def read_video(
    path: str | PathLike[str],
    *,
    lazy: bool = False,
    sample_rate: int = JUDGE_SAMPLE_RATE_HZ,
) -> VideoData:
    """Decode an MP4/WebM (any container FFmpeg reads). ``lazy`` yields frames one by one."""
    source = str(path)
    with av.open(source) as container:
        if not container.streams.video:
            raise ValueError(f"{source}: no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
        container_duration = container.duration / av.time_base if container.duration else 0.0
    audio = read_audio(source, start_s=start, sample_rate=sample_rate)
    if lazy:
        return VideoData(iter_frames(source), fps, audio, duration or container_duration)
    frames = list(iter_frames(source))
    if duration <= 0.0:  # WebM stores no stream duration: count the frames
        duration = len(frames) / fps if fps > 0 else container_duration
    return VideoData(frames, fps, audio, duration)


def iter_frames(path: str | PathLike[str]) -> Iterator[np.ndarray]:
    """Yield the first video stream's frames as (H, W, 3) uint8 RGB arrays."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            yield frame.to_ndarray(format="rgb24")


def read_audio(
    path: str | PathLike[str],
    *,
    start_s: float = 0.0,
    sample_rate: int = JUDGE_SAMPLE_RATE_HZ,
) -> np.ndarray:
    """The first audio stream as mono float32 at ``sample_rate``, sample 0 at ``start_s``.

    Placing audio by its packet timestamps keeps a late-starting or primed (AAC) audio
    stream aligned with the video, which the A/V offset measure depends on.
    """
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        stream = container.streams.audio[0]
        to_float = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        source_rate = stream.rate or stream.codec_context.sample_rate
        first_time: float | None = None
        for frame in container.decode(stream):
            if first_time is None and frame.time is not None:
                first_time = float(frame.time)
            source_rate = frame.sample_rate
            for converted in to_float.resample(frame):
                chunks.append(converted.to_ndarray().mean(axis=0))
        for converted in to_float.resample(None):
            chunks.append(converted.to_ndarray().mean(axis=0))
    if not chunks:
        return np.zeros(0, dtype=np.float32)
    mono = np.concatenate(chunks).astype(np.float32)
    shift = round(((first_time or 0.0) - start_s) * source_rate)
    if shift > 0:
        mono = np.concatenate([np.zeros(shift, dtype=np.float32), mono])
    elif shift < 0:
        mono = mono[-shift:]
    if source_rate != sample_rate:
        mono = soxr.resample(mono, source_rate, sample_rate, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)
