"""A real clip cut for self-reenactment: its own A/V offset measured and undone, then its first
part kept to learn from and the rest held out, its audio to render and its frames to compare.

Real clips often carry an A/V offset (one measured this way held 240 ms), which would count
against any render judged against them. The offset is the lag of best correlation between the
dlib mouth aperture and the speech envelope; it is undone by starting the video or the audio
later, so that no frame is invented.
"""

from __future__ import annotations

import math
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from quality.judge import FaceMeasure
from quality.lipsync import av_offset_frames
from quality.video import iter_frames, read_audio

MAX_CLIP_OFFSET_S = 0.4  # the widest offset looked for, either way
ENROL_SHARE = 0.6
PART_AUDIO_RATE_HZ = 48_000


def clip_av_offset(
    measures: Sequence[FaceMeasure | None], audio_16k: np.ndarray, fps: float
) -> int:
    """The clip's A/V offset in its own frames (positive: the video is late)."""
    return av_offset_frames(measures, audio_16k, fps, max_lag=math.ceil(MAX_CLIP_OFFSET_S * fps))


@dataclass(frozen=True)
class HeldOutSplit:
    """Which frames and audio of a clip go where, once its A/V offset is undone.

    Clip frame ``first_frame + k`` shows the moment of audio time ``audio_start_s + k / fps``.
    """

    fps: float
    offset_frames: int  # measured: positive = the video was late
    first_frame: int
    audio_start_s: float
    n_frames: int  # aligned frames from first_frame
    enrol_frames: int  # the first this many of them are for enrolment

    @property
    def held_out_first(self) -> int:
        """Clip index of the first held-out frame."""
        return self.first_frame + self.enrol_frames

    @property
    def held_out_frames(self) -> int:
        return self.n_frames - self.enrol_frames

    @property
    def enrol_s(self) -> float:
        return self.enrol_frames / self.fps

    @property
    def held_out_s(self) -> float:
        return self.held_out_frames / self.fps

    def audio_span_s(self, part: str) -> tuple[float, float]:
        """(start, end) audio time of the ``"enrol"`` or ``"held_out"`` part."""
        cut = self.audio_start_s + self.enrol_frames / self.fps
        if part == "enrol":
            return self.audio_start_s, cut
        return cut, self.audio_start_s + self.n_frames / self.fps

    def held_out_index(self, time_s: float) -> int:
        """The clip frame showing held-out time ``time_s`` (0 = the held-out part's start)."""
        k = min(max(round(time_s * self.fps), 0), self.held_out_frames - 1)
        return self.held_out_first + k


def split_clip(
    n_frames: int,
    audio_s: float,
    fps: float,
    offset_frames: int,
    enrol_share: float = ENROL_SHARE,
    max_s: float | None = None,
) -> HeldOutSplit:
    """Undo ``offset_frames`` and cut: the first ``enrol_share`` for enrolment, the rest held
    out; ``max_s`` uses only the start of a long clip."""
    first = max(offset_frames, 0)
    audio_start = max(-offset_frames, 0) / fps
    usable = min(n_frames - first, math.floor((audio_s - audio_start) * fps + 1e-6))
    if max_s is not None:
        usable = min(usable, round(max_s * fps))
    if usable < 2:
        raise ValueError("the clip has no frames with audio once its offset is undone")
    return HeldOutSplit(fps, offset_frames, first, audio_start, usable, round(usable * enrol_share))


def write_enrol_part(clip: Path, split: HeldOutSplit, output: Path) -> Path:
    """Write the enrolment part (its frames and, aligned, its audio) as an H.264/AAC MP4."""
    audio = read_audio(clip, sample_rate=PART_AUDIO_RATE_HZ)
    start, end = split.audio_span_s("enrol")
    samples = audio[round(start * PART_AUDIO_RATE_HZ) : round(end * PART_AUDIO_RATE_HZ)]
    rate = Fraction(split.fps).limit_denominator(1001)
    with av.open(str(output), "w") as container:
        video = container.add_stream("libx264", rate=rate)
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "16", "preset": "veryfast"}
        sound = container.add_stream("aac", rate=PART_AUDIO_RATE_HZ)
        sound.layout = "mono"
        stop = split.first_frame + split.enrol_frames
        for index, frame in enumerate(iter_frames(clip)):
            if index >= stop:
                break
            if index < split.first_frame:
                continue
            if index == split.first_frame:
                video.width, video.height = frame.shape[1] // 2 * 2, frame.shape[0] // 2 * 2
            even = np.ascontiguousarray(frame[: video.height, : video.width])
            for packet in video.encode(av.VideoFrame.from_ndarray(even, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        block = 1024
        for k in range(0, len(samples), block):
            chunk = np.ascontiguousarray(samples[k : k + block][None, :], dtype=np.float32)
            piece = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            piece.sample_rate, piece.pts = PART_AUDIO_RATE_HZ, k
            for packet in sound.encode(piece):
                container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return output


def write_held_out_audio(clip: Path, split: HeldOutSplit, output: Path) -> Path:
    """Write the held-out part's audio as a 48 kHz mono 16-bit WAV."""
    audio = read_audio(clip, sample_rate=PART_AUDIO_RATE_HZ)
    start, end = split.audio_span_s("held_out")
    samples = audio[round(start * PART_AUDIO_RATE_HZ) : round(end * PART_AUDIO_RATE_HZ)]
    pcm = np.clip(np.rint(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(output), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(PART_AUDIO_RATE_HZ)
        out.writeframes(pcm.tobytes())
    return output
