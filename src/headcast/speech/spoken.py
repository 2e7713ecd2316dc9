"""Synthesized speech: the audio, its phones and its words, all on one timeline."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.decode import resample
from headcast.phones.track import SILENCE, Phone, PhoneTrack


@dataclass(frozen=True)
class WordTiming:
    """One word of the text as written, and when it is spoken."""

    word: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Speech:
    """Speech audio with the phones and words it says.

    ``phones`` covers ``[0, audio.duration_s]`` exactly (gapless, in order); ``words`` are in
    text order with times inside the audio.
    """

    audio: Audio
    phones: PhoneTrack
    words: list[WordTiming] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.audio.duration_s


def track_from_boundaries(
    labels: Iterable[tuple[str, int, int]], n_samples: int, sample_rate: int, source: str
) -> PhoneTrack:
    """A gapless PhoneTrack from ``(label, start_sample, end_sample)`` spans in order.

    Spans are clipped to the audio, empty ones dropped, gaps filled with silence, and
    neighbouring silences merged; the last phone ends at the audio's end.
    """
    merged: list[list] = []  # [label, start, end] in samples
    cursor = 0
    for label, start, end in labels:
        start, end = max(start, cursor), min(end, n_samples)
        if end <= start:
            continue
        if start > cursor:
            _append(merged, SILENCE, cursor, start)
        _append(merged, label, start, end)
        cursor = end
    if cursor < n_samples:
        _append(merged, SILENCE, cursor, n_samples)
    phones = tuple(
        Phone(label, start / sample_rate, end / sample_rate) for label, start, end in merged
    )
    return PhoneTrack(phones=phones, duration_s=n_samples / sample_rate, source=source)


def _append(spans: list[list], label: str, start: int, end: int) -> None:
    if spans and spans[-1][0] == SILENCE and label == SILENCE:
        spans[-1][2] = end
    else:
        spans.append([label, start, end])


def join_speech(parts: Iterable[Speech]) -> Speech:
    """One Speech from consecutive pieces (sentences): audio, phones and words end to end.

    Pieces at another sample rate than the first are resampled to it. The joined track stays
    gapless: each piece's phones are shifted by the exact sample offset of its audio.
    """
    pieces = list(parts)
    if not pieces:
        raise ValueError("nothing to join")
    if len(pieces) == 1:
        return pieces[0]
    rate = pieces[0].audio.sample_rate
    chunks: list[np.ndarray] = []
    spans: list[tuple[str, int, int]] = []
    words: list[WordTiming] = []
    offset = 0
    sources = []
    for piece in pieces:
        samples = piece.audio.samples
        scale = 1.0
        if piece.audio.sample_rate != rate:
            samples = resample(samples, piece.audio.sample_rate, rate)
            scale = len(samples) / max(len(piece.audio.samples), 1)
        piece_rate = piece.audio.sample_rate * scale
        n = len(samples)
        for phone in piece.phones.phones:
            start = offset + min(round(phone.start_s * piece_rate), n)
            end = offset + min(round(phone.end_s * piece_rate), n)
            spans.append((phone.label, start, end))
        shift_s = offset / rate
        words.extend(
            WordTiming(w.word, w.start_s + shift_s, w.end_s + shift_s) for w in piece.words
        )
        chunks.append(samples)
        offset += n
        sources.append(piece.phones.source)
    source = sources[0] if len(set(sources)) == 1 else "mixed"
    track = track_from_boundaries(spans, offset, rate, source)
    audio = Audio(np.concatenate(chunks).astype(np.float32, copy=False), rate)
    return Speech(audio=audio, phones=track, words=words)


__all__ = ["Speech", "WordTiming", "join_speech", "track_from_boundaries"]
