"""PocketSphinx glue shared by alignment and recognition.

Decoders take ~0.1-0.3 s to build, so one is kept per configuration and reused; a decoder is
stateful (one utterance at a time), so each carries a lock that callers hold while decoding.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pocketsphinx

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio
from headcast.errors import InputError
from headcast.phones.phoneset import normalize_label
from headcast.phones.track import SILENCE, Phone, PhoneTrack

FRAMES_PER_S = 100
"""PocketSphinx's frame rate (its ``frate``): segment times are in 10 ms frames."""

SAMPLE_RATE = ANALYSIS_SAMPLE_RATE_HZ

_QUIET = {"loglevel": "FATAL"}  # nothing to stderr; errors surface as return values
_DITHER_SEED = 0
_DITHER_SAMPLES = 32  # 2 ms of one unchanging value: not a recording's background
_CUT_SAMPLES = 320  # 20 ms of exact zeros: digital silence, cut out before decoding
UTTERANCE_BLOCK_SAMPLES = 1 << 18  # samples converted to PCM and searched for runs at once
Span = tuple[str, float, float, float]  # label, start s, end s, confidence

_cache_lock = threading.Lock()
_decoders: dict[tuple[tuple[str, Any], ...], tuple[pocketsphinx.Decoder, threading.Lock]] = {}


def model_path(name: str) -> str:
    """A file or directory of the model bundled with pocketsphinx."""
    return str(pocketsphinx.get_model_path(name))


@contextmanager
def decoder(**options: Any) -> Iterator[pocketsphinx.Decoder]:
    """The shared decoder for ``options``, held exclusively for the ``with`` block."""
    key = tuple(sorted(options.items()))
    with _cache_lock:
        entry = _decoders.get(key)
        if entry is None:
            entry = (pocketsphinx.Decoder(**options, **_QUIET), threading.Lock())
            _decoders[key] = entry
    ps_decoder, lock = entry
    with lock:
        yield ps_decoder


@dataclass(frozen=True)
class Utterance:
    """Audio as pocketsphinx gets it: 16-bit PCM with stretches of digital silence cut out.

    Exact zeros (a TTS pause, padding, a noise gate) give degenerate features: decoded as
    they are, the recognizer reads long phones into them. Dithering them is not enough
    (measured on the test clips padded with 1 s of zeros: frame agreement 0.77 for
    recognition and 0.95-0.97 for alignment, against 0.82 and 1.00 with the zeros cut out;
    the cut gives alignments identical to those of the unpadded clips).
    """

    pcm: memoryview  # bytes of 16-bit samples, in their own array
    kept: tuple[tuple[int, int], ...]  # (start, end) sample of each piece kept, in order

    def original_spans(self, spans: Iterable[Span]) -> list[Span]:
        """``spans`` timed on the decoded PCM, moved back to the audio's own timeline.

        A span across a cut is split around it; the cut itself is left as a gap (silence).
        """
        if len(self.kept) == 1 and self.kept[0][0] == 0:
            return list(spans)
        lengths = np.array([end - start for start, end in self.kept])
        offsets = np.concatenate(([0], np.cumsum(lengths)))  # piece starts in the decoded PCM
        moved: list[Span] = []
        for label, start_s, end_s, confidence in spans:
            lo, hi = start_s * SAMPLE_RATE, end_s * SAMPLE_RATE
            first = max(int(np.searchsorted(offsets, lo, side="right")) - 1, 0)
            last = min(int(np.searchsorted(offsets, hi, side="left")), len(self.kept))
            for index in range(first, max(last, first + 1)):
                a = lo if index == 0 else max(lo, offsets[index])
                b = hi if index == len(self.kept) - 1 else min(hi, offsets[index + 1])
                if a < b:
                    shift = self.kept[index][0] - offsets[index]
                    moved.append(
                        (label, (a + shift) / SAMPLE_RATE, (b + shift) / SAMPLE_RATE, confidence)
                    )
        return moved


def utterance(audio: Audio, *, block_samples: int = UTTERANCE_BLOCK_SAMPLES) -> Utterance:
    """The PCM that pocketsphinx decodes for ``audio`` (validated first).

    Converted, searched for runs and compacted ``block_samples`` at a time, in the PCM's own
    memory: beside the PCM, memory holds one block's work and the runs found (one pair of
    ints per run of at least ``_DITHER_SAMPLES`` samples), and the result is the same for any
    block size.
    """
    validate(audio)
    samples = np.asarray(audio.samples)
    n = len(samples)
    pcm = np.empty(n, np.int16)
    for first in range(0, n, block_samples):
        x = np.nan_to_num(np.asarray(samples[first : first + block_samples], dtype=np.float32))
        scaled = np.rint(np.clip(x, -1.0, 1.0).astype(np.float64) * 32768.0)
        pcm[first : first + block_samples] = np.clip(scaled, -32768, 32767)
    silent, flat = _silent_and_flat(pcm, block_samples)
    n_flat = int(np.sum(flat[:, 1] - flat[:, 0]))
    if n_flat:  # shorter flat stretches: ±1 LSB of reproducible noise
        noise = np.random.default_rng(_DITHER_SEED).integers(-1, 2, size=n_flat, dtype=np.int32)
        used = 0
        for first in range(0, n, block_samples):
            stop = min(first + block_samples, n)
            # The stretches that reach into this block, cut to it.
            first_row = int(np.searchsorted(flat[:, 1], first, "right"))
            rows = flat[first_row : int(np.searchsorted(flat[:, 0], stop, "left"))]
            if not len(rows):
                continue
            block, where = pcm[first:stop], _mask(np.clip(rows, first, stop) - first, stop - first)
            count = int(np.count_nonzero(where))
            dithered = block[where].astype(np.int32) + noise[used : used + count]
            block[where] = np.clip(dithered, -32768, 32767)
            used += count
        del noise
    bounds = [0, *silent.ravel().tolist(), n]
    kept = tuple((a, b) for a, b in zip(bounds[::2], bounds[1::2], strict=True) if a < b)
    # The kept pieces moved forward over the cuts, a block at a time (never a whole-length copy).
    filled = 0
    for a, b in kept:
        if filled != a:
            for first in range(a, b, block_samples):
                stop = min(first + block_samples, b)
                pcm[filled + first - a : filled + stop - a] = pcm[first:stop]
        filled += b - a
    if filled < n:
        pcm.resize(filled, refcheck=False)  # nothing else refers to it yet
    # numpy 1.26's stubs do not count an ndarray as a buffer; it is one.
    return Utterance(memoryview(pcm).cast("B"), kept)  # type: ignore[arg-type]


def _silent_and_flat(pcm: np.ndarray, block_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The runs of digital silence (``_CUT_SAMPLES`` zeros or more) and the flat stretches
    outside them (``_DITHER_SAMPLES`` equal values or more), as ``(start, end)`` rows in order.

    Found a block at a time. Each block is searched with the longer run length more on either
    side: a long run across its edges is seen there whole or at least that long.
    """
    margin = max(_CUT_SAMPLES, _DITHER_SAMPLES)
    silent: list[np.ndarray] = []
    flat: list[np.ndarray] = []
    for first in range(0, len(pcm), block_samples):
        stop = min(first + block_samples, len(pcm))
        lo, hi = max(first - margin, 0), min(stop + margin, len(pcm))
        window = pcm[lo:hi]
        block_silent = _runs(window, _CUT_SAMPLES, zeros_only=True)[first - lo : stop - lo]
        block_flat = _runs(window, _DITHER_SAMPLES, zeros_only=False)[first - lo : stop - lo]
        block_flat &= ~block_silent
        silent.append(_intervals(block_silent) + first)
        flat.append(_intervals(block_flat) + first)
    return _joined_intervals(silent), _joined_intervals(flat)


def _intervals(mask: np.ndarray) -> np.ndarray:
    """The ``(start, end)`` of each run of True in ``mask``, as rows."""
    edges = np.flatnonzero(np.diff(mask.view(np.int8), prepend=0, append=0))
    return edges.reshape(-1, 2)


def _mask(rows: np.ndarray, length: int) -> np.ndarray:
    """A mask of ``length`` samples, True inside the disjoint ``(start, end)`` ``rows``."""
    edges = np.bincount(rows[:, 0], minlength=length + 1)
    edges -= np.bincount(rows[:, 1], minlength=length + 1)
    return np.cumsum(edges[:-1]) > 0


def _joined_intervals(parts: list[np.ndarray]) -> np.ndarray:
    """Blocks' intervals in order as one array, those meeting at a block edge joined."""
    rows = np.concatenate(parts) if parts else np.zeros((0, 2), np.intp)
    if len(rows) < 2:
        return rows
    meets = rows[1:, 0] == rows[:-1, 1]
    starts = rows[np.concatenate(([True], ~meets)), 0]
    ends = rows[np.concatenate((~meets, [True])), 1]
    return np.stack((starts, ends), axis=1)


def _runs(pcm: np.ndarray, min_length: int, *, zeros_only: bool) -> np.ndarray:
    """A mask of the samples in runs of at least ``min_length`` equal values (or zeros)."""
    starts = np.concatenate(([0], np.flatnonzero(pcm[1:] != pcm[:-1]) + 1))
    ends = np.concatenate((starts[1:], [len(pcm)]))
    long = (ends - starts) >= min_length
    if zeros_only:
        long &= pcm[starts] == 0
    return _mask(np.stack((starts[long], ends[long]), axis=1), len(pcm))


def validate(audio: Audio) -> None:
    """Raise InputError unless ``audio`` is non-empty mono audio at the analysis rate."""
    if audio.sample_rate != ANALYSIS_SAMPLE_RATE_HZ:
        raise InputError(
            f"phone analysis needs {ANALYSIS_SAMPLE_RATE_HZ} Hz audio, got {audio.sample_rate} Hz"
        )
    if np.asarray(audio.samples).ndim != 1:
        raise InputError("phone analysis needs mono audio (one channel)")
    if len(audio.samples) == 0:
        raise InputError("the audio is empty: there is no speech to analyse")


def decode(
    ps_decoder: pocketsphinx.Decoder, pcm: bytes | memoryview, *, fresh: bool = True
) -> None:
    """Run one whole utterance (batch CMN, as the bundled model expects) through ``ps_decoder``.

    ``fresh`` rebuilds the feature extractor first (~0.1 ms): its noise estimate otherwise
    carries over from the previous utterance and makes results depend on what was decoded
    before.
    """
    if fresh:
        ps_decoder.reinit_feat()
    ps_decoder.start_utt()
    ps_decoder.process_raw(pcm, no_search=False, full_utt=True)
    ps_decoder.end_utt()


def build_track(spans: Iterable[Span], duration_s: float, source: str) -> PhoneTrack:
    """A gapless PhoneTrack over ``[0, duration_s]`` from ``(label, start_s, end_s, confidence)``.

    Labels are normalized; spans are clipped to the audio and to each other; gaps shorter
    than one frame extend the phone before them, longer gaps become ``SIL``; neighbouring
    ``SIL`` spans merge (confidence weighted by duration); the last phone ends at ``duration_s``.
    """
    min_gap = 1.0 / FRAMES_PER_S
    phones: list[Phone] = []

    def append(label: str, start: float, end: float, confidence: float) -> None:
        if end <= start:
            return
        if phones and phones[-1].label == SILENCE and label == SILENCE:
            prev = phones.pop()
            total = end - prev.start_s
            confidence = (prev.confidence * prev.duration_s + confidence * (end - start)) / total
            start = prev.start_s
        phones.append(Phone(label, start, end, float(min(max(confidence, 0.0), 1.0))))

    def fill_to(time_s: float) -> None:
        cursor = phones[-1].end_s if phones else 0.0
        if time_s - cursor <= 0:
            return
        if phones and time_s - cursor < min_gap:
            last = phones.pop()
            phones.append(Phone(last.label, last.start_s, time_s, last.confidence))
        else:
            append(SILENCE, cursor, time_s, 1.0)

    for label, start_s, end_s, confidence in sorted(spans, key=lambda span: span[1]):
        cursor = phones[-1].end_s if phones else 0.0
        start = min(max(start_s, cursor), duration_s)
        end = min(end_s, duration_s)
        if end <= start:
            continue
        fill_to(start)
        append(normalize_label(label), start, end, confidence)
    fill_to(duration_s)
    if not phones:
        phones.append(Phone(SILENCE, 0.0, duration_s, 1.0))
    return PhoneTrack(tuple(phones), duration_s, source)
