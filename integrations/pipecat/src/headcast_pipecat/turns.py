"""What the service keeps of each turn sent to the avatar: the speech it pushed (so a turn cut
short by a lost server can still be heard), how much came back, and the frames held until the
turn's last picture is out."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import soxr
from pipecat.frames.frames import Frame


@dataclass
class Turn:
    segment: int  # the server's number for it: 1, 2, … per stream
    input_rate_hz: int
    context_id: str | None = None
    speech: list[np.ndarray] = field(default_factory=list)  # int16 at input_rate_hz, as pushed
    returned_samples: int = 0  # of the audio that came back with its frames, at the output rate
    held: list[Frame] = field(default_factory=list)  # released after its last frame
    first_frame_out: bool = False

    def unheard(self, output_rate_hz: int) -> np.ndarray:
        """The speech that has not come back yet, at the input rate."""
        if not self.speech:
            return np.zeros(0, np.int16)
        pushed = np.concatenate(self.speech)
        heard = round(self.returned_samples * self.input_rate_hz / output_rate_hz)
        return pushed[heard:]


class SpeechResampler:
    """TTS audio (any rate, any channel count) to mono int16 at the stream's input rate, with
    state across a turn's chunks so the joins are seamless; ``flush`` at a turn's end returns
    what the filter still holds."""

    def __init__(self, target_rate_hz: int) -> None:
        self.target_rate_hz = target_rate_hz
        self._source_rate_hz = 0
        self._stream: soxr.ResampleStream | None = None

    def convert(self, audio: bytes, sample_rate_hz: int, channels: int) -> np.ndarray:
        pcm = np.frombuffer(audio, dtype=np.int16)
        if channels > 1:
            usable = len(pcm) // channels * channels
            pcm = pcm[:usable].reshape(-1, channels).mean(axis=1).astype(np.int16)
        if sample_rate_hz == self.target_rate_hz:
            # Back to the stream's own rate mid-turn: what the old filter holds goes first.
            return np.concatenate([self.flush(), pcm]) if self._stream else pcm
        if sample_rate_hz != self._source_rate_hz:
            tail = self.flush()
            self._source_rate_hz = sample_rate_hz
            self._stream = soxr.ResampleStream(
                sample_rate_hz, self.target_rate_hz, 1, dtype="int16"
            )
            return np.concatenate([tail, self._resample(pcm)])
        return self._resample(pcm)

    def flush(self) -> np.ndarray:
        stream, self._stream, self._source_rate_hz = self._stream, None, 0
        if stream is None:
            return np.zeros(0, np.int16)
        return stream.resample_chunk(np.zeros(0, np.int16), last=True)

    def reset(self) -> None:
        self._stream, self._source_rate_hz = None, 0

    def _resample(self, pcm: np.ndarray) -> np.ndarray:
        assert self._stream is not None
        return self._stream.resample_chunk(pcm)
