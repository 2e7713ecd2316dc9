"""Real speech cut into frames as a TTS emits them, and what the service sent downstream."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import av
import numpy as np
import soxr
from pipecat.frames.frames import Frame, OutputImageRawFrame, TTSAudioRawFrame

from headcast_pipecat.video_service import SEGMENT_KEY

REPO = Path(__file__).resolve().parents[3]
PORTRAIT = REPO / "samples" / "astronaut.png"
SPEECH = REPO / "samples" / "speech.wav"  # LibriVox readings, 16 kHz mono
# "he was not an ill disposed young man": the second reading, with its pauses around it.
SENTENCE_S = (7.3, 10.6)
CHUNK_S = 0.02  # as TTS services hand over audio


def speech(rate_hz: int, span_s: tuple[float, float] = SENTENCE_S) -> np.ndarray:
    """int16 mono at ``rate_hz``."""
    with av.open(str(SPEECH)) as container:
        source_rate = container.streams.audio[0].rate
        pcm = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    pcm = pcm[int(span_s[0] * source_rate) : int(span_s[1] * source_rate)]
    if source_rate != rate_hz:
        pcm = soxr.resample(pcm, source_rate, rate_hz)
    return pcm.astype(np.int16)


def tts_frames(pcm: np.ndarray, rate_hz: int) -> list[TTSAudioRawFrame]:
    step = int(rate_hz * CHUNK_S)
    return [
        TTSAudioRawFrame(audio=pcm[i : i + step].tobytes(), sample_rate=rate_hz, num_channels=1)
        for i in range(0, len(pcm), step)
    ]


def images(frames: Sequence[Frame]) -> list[OutputImageRawFrame]:
    return [f for f in frames if isinstance(f, OutputImageRawFrame)]


def segment_of(image: OutputImageRawFrame) -> int:
    return int(image.metadata[SEGMENT_KEY])


def audio_out(frames: Sequence[Frame]) -> np.ndarray:
    chunks = [np.frombuffer(f.audio, np.int16) for f in frames if isinstance(f, TTSAudioRawFrame)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int16)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    x, y = a[:n].astype(float), b[:n].astype(float)
    return float(np.dot(x, y) / (np.linalg.norm(x) * np.linalg.norm(y) + 1e-9))
