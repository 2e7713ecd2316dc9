"""Speech read a chunk at a time, as often as it is needed, instead of held whole.

A long clip at the video's audio rate is the largest thing a render would otherwise keep (10
minutes at 48 kHz: 115 MB of float32); it is read once to be analysed and once more, beside
the frames, to be encoded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soxr

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio, join_chunks
from headcast.audio.decode import SilenceMeter, check_decoded, stream_audio

SOURCE_CHUNK_SAMPLES = 64 * 1024  # of decoded audio resampled at once


@dataclass(frozen=True)
class SpeechSource:
    """Mono float32 speech at ``sample_rate``; ``chunks()`` reads it from the start each time."""

    sample_rate: int
    read: Callable[[], Iterator[np.ndarray]]
    max_duration_s: float  # no read is longer

    def chunks(self) -> Iterator[np.ndarray]:
        return self.read()


def speech_source(
    source: str | Path | bytes | Audio, sample_rate: int, *, max_duration_s: float = 600.0
) -> SpeechSource:
    """``source`` at ``sample_rate``: a file or its bytes decoded anew on each read (as
    ``load_audio``, with its checks), decoded audio resampled a chunk at a time (checked as
    ``conform_audio`` checks it, now)."""
    if isinstance(source, Audio):
        check_decoded(source, max_duration_s=max_duration_s)
        audio = source
        return SpeechSource(
            sample_rate, lambda: _resampled(audio, sample_rate), audio.duration_s + 0.05
        )
    data = bytes(source) if isinstance(source, bytes | bytearray | memoryview) else source
    return SpeechSource(
        sample_rate,
        lambda: stream_audio(data, sample_rate=sample_rate, max_duration_s=max_duration_s),
        max_duration_s + 0.05,
    )


def _resampled(audio: Audio, sample_rate: int) -> Iterator[np.ndarray]:
    """The same samples as ``resample`` gives in one call (soxr streams them exactly)."""
    samples = np.asarray(audio.samples, np.float32)
    if audio.sample_rate == sample_rate:
        yield samples
        return
    resampler = soxr.ResampleStream(audio.sample_rate, sample_rate, 1, dtype="float32")
    for start in range(0, samples.size, SOURCE_CHUNK_SAMPLES):
        chunk = samples[start : start + SOURCE_CHUNK_SAMPLES]
        last = start + SOURCE_CHUNK_SAMPLES >= samples.size
        yield resampler.resample_chunk(chunk, last=last)


@dataclass(frozen=True)
class SpeechAtAnalysisRate:
    """One read of a ``SpeechSource``: what the analyses need of it."""

    analysis: Audio  # the speech at the analysis rate
    duration_s: float  # at the source's own rate
    silent: bool  # as ``is_silent`` judges the speech at the source's rate


def read_for_analysis(
    speech: SpeechSource, analysis_rate: int = ANALYSIS_SAMPLE_RATE_HZ
) -> SpeechAtAnalysisRate:
    """Read ``speech`` once, keeping only its analysis-rate copy: the samples are those
    ``resample`` gives from the whole, and silence is judged as ``is_silent`` judges it."""
    meter = SilenceMeter(speech.sample_rate)
    resampler = (
        None
        if speech.sample_rate == analysis_rate
        else soxr.ResampleStream(speech.sample_rate, analysis_rate, 1, dtype="float32")
    )
    n_samples = 0

    def analysed() -> Iterator[np.ndarray]:
        nonlocal n_samples
        for chunk in speech.chunks():
            meter.add(chunk)
            n_samples += chunk.size
            yield chunk if resampler is None else resampler.resample_chunk(chunk)
        if resampler is not None:
            yield resampler.resample_chunk(np.zeros(0, np.float32), last=True)

    # The analysis copy is the one thing kept whole: its room is reserved, not grown.
    samples = join_chunks(
        analysed(), reserve_samples=int(speech.max_duration_s * analysis_rate) + 2**16
    )
    return SpeechAtAnalysisRate(
        Audio(samples, analysis_rate), n_samples / speech.sample_rate, meter.silent
    )
