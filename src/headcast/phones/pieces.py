"""Speech cut at its pauses into pieces whose phones are found one after another.

A long clip's phones then arrive a piece at a time: a video can start rendering from the first
piece while the rest are decoded. Cuts fall in the middle of pauses, never inside a word, so
each piece is a phrase the decoders handle on its own. With a transcript, a first alignment
pass over the whole clip places the words; each piece is then aligned with its own words.
Where those words leave speech under none, or the transcript gives times (subtitles), the
pieces come from ``piecewise``: the transcript used only where it fits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.vad import VAD_FRAME_MS, frame_levels_db, speech_mask
from headcast.phones import sphinx
from headcast.phones.align import Alignment, align_words, transcript_words, word_spans
from headcast.phones.coverage import TranscriptCoverage
from headcast.phones.piecewise import (
    UNALIGNED_SPEECH_MAX_S,
    fits,
    hinted_parts,
    speech_frames,
    unaligned_speech_s,
)
from headcast.phones.recognize import recognize_phones
from headcast.phones.track import SILENCE, Phone, PhoneTrack
from headcast.phones.transcript_files import Transcript, TranscriptSegment, parse_transcript

MIN_CUT_PAUSE_MS = 250.0  # only pauses this long are cut
# Short, so that the first frames can be rendered early; shorter saves nothing, as placing the
# words over the whole clip takes most of the wait (0.32 of 0.54 s for 25 s of speech).
FIRST_PIECE_MIN_S = 3.0
PIECE_MIN_S = 5.0
LAST_PIECE_MIN_S = 1.0
# The decoders' memory grows with the piece (pocketsphinx keeps its search history: ~1 MB a
# second of speech), so speech without pauses long enough to cut is cut anyway, at its
# quietest moment outside words, to keep every piece under this.
MAX_PIECE_S = 30.0
QUIET_SMOOTHING_MS = 50.0  # levels are averaged this long to find the quietest moment
# A piece the transcript has no words for is recognized when it holds this much loud sound
# (a sentence missing from the transcript), and silent otherwise.
UNTRANSCRIBED_SPEECH_MIN_S = 0.3

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhonePiece:
    """The phones of ``[start_s, end_s)`` of a clip, on the clip's timeline."""

    start_s: float
    end_s: float
    phones: tuple[Phone, ...]
    source: str  # as PhoneTrack.source
    coverage: TranscriptCoverage | None = None  # as PhoneTrack.coverage


def cut_times(audio: Audio, words: list[sphinx.Span] | None = None) -> list[float]:
    """Where to cut ``audio``: the middle of pauses, spaced by the minimum piece lengths.

    ``words`` (label, start, end, _) are never cut. No piece is longer than ``MAX_PIECE_S``.
    """
    levels = frame_levels_db(audio.samples, audio.sample_rate)
    return _cuts(_pause_middles(levels), levels, audio.duration_s, words)


def _cuts(
    middles: list[float], levels: np.ndarray, duration_s: float, words: list[sphinx.Span] | None
) -> list[float]:
    """The pauses to cut at, spaced, with more cuts where a piece would be too long."""
    return _bounded_cuts(_spaced_cuts(middles, duration_s, words), levels, duration_s, words)


def _pause_middles(levels: np.ndarray) -> list[float]:
    """The middle of every pause long enough to cut, inside the clip, in seconds, from the
    levels of its 10 ms frames."""
    # Quiet by loudness alone: music is no place to cut either.
    quiet = ~speech_mask(levels)
    if len(quiet) == 0:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.view(np.int8), [0]))))
    min_frames = MIN_CUT_PAUSE_MS / VAD_FRAME_MS
    return [
        0.5 * (start + end) * VAD_FRAME_MS / 1000
        for start, end in zip(edges[::2], edges[1::2], strict=True)
        # neither too short, nor the leading or trailing silence
        if end - start >= min_frames and start > 0 and end < len(quiet)
    ]


def _spaced_cuts(
    middles: list[float], duration_s: float, words: list[sphinx.Span] | None
) -> list[float]:
    cuts: list[float] = []
    for time_s in middles:
        if words and any(a < time_s < b for _, a, b, _ in words):
            continue
        since = time_s - (cuts[-1] if cuts else 0.0)
        if since >= (PIECE_MIN_S if cuts else FIRST_PIECE_MIN_S) and (
            duration_s - time_s >= LAST_PIECE_MIN_S
        ):
            cuts.append(time_s)
    return cuts


def _bounded_cuts(
    cuts: list[float], levels: np.ndarray, duration_s: float, words: list[sphinx.Span] | None
) -> list[float]:
    """``cuts`` with more wherever a piece would outlast ``MAX_PIECE_S``: at the quietest
    moment (outside words where there are any) that leaves both sides their minimum length."""
    if not len(levels):
        return cuts
    width = max(int(QUIET_SMOOTHING_MS / VAD_FRAME_MS), 1)
    smooth = np.convolve(levels.astype(np.float64), np.ones(width) / width, mode="same")
    frame_s = VAD_FRAME_MS / 1000
    out: list[float] = []
    for start, end in pairwise([0.0, *cuts, duration_s]):
        while end - start > MAX_PIECE_S:
            lo = start + (PIECE_MIN_S if out else FIRST_PIECE_MIN_S)
            hi = min(
                start + MAX_PIECE_S, end - (LAST_PIECE_MIN_S if end >= duration_s else PIECE_MIN_S)
            )
            first, stop = int(np.ceil(lo / frame_s)), min(int(hi / frame_s) + 1, len(smooth))
            if stop <= first:
                break
            candidates = smooth[first:stop].copy()
            for _, a, b, _ in words or ():
                candidates[
                    max(int(a / frame_s) - first, 0) : max(int(b / frame_s) + 1 - first, 0)
                ] = np.inf
            if np.isinf(candidates).all():
                candidates = smooth[first:stop]  # one word longer than a piece: cut it all the same
            start = (first + int(np.argmin(candidates))) * frame_s
            out.append(start)
        if end < duration_s:
            out.append(end)
    return out


def phones_in_pieces(
    audio: Audio, transcript: str | None = None, *, fast: bool = False
) -> Iterator[PhonePiece]:
    """The phones of 16 kHz mono speech, a piece at a time, in order.

    As ``phones_from_audio``: aligned with ``transcript`` (plain text, or SubRip, WebVTT or
    ``.stm`` with times) where it fits, guided by its words or recognized elsewhere (logged,
    and counted in each piece's ``coverage``), recognized without one. Raises InputError for
    empty audio or another sample rate.
    """
    sphinx.validate(audio)
    parsed = parse_transcript(transcript) if transcript is not None and transcript.strip() else None
    text = parsed.text if parsed is not None and parsed.text.strip() else None
    levels = frame_levels_db(audio.samples, audio.sample_rate)
    middles = _pause_middles(levels)
    cuts_s = _cuts(middles, levels, audio.duration_s, None)
    words = None
    whole: Alignment | None = None
    mask = speech_frames(audio, levels) if text is not None else None
    if parsed is not None and text is not None and mask is not None:
        # The whole transcript aligned first: where it does not fit the speech (see ``fits``),
        # or cues give times, the transcript is used only where it fits (``hinted_parts``).
        # Speech long enough to cut has only its words placed (the phone pass over a long
        # clip would hold its every state a frame); its pieces are judged one by one.
        if parsed.timed:
            words = None
        elif cuts_s:
            words = word_spans(audio, text)
        else:
            whole = align_words(audio, transcript_words(text))
            words = whole.words if whole is not None else None
        if words is None or (
            (not fits(whole, mask, 0.0, audio.duration_s))
            if whole is not None
            else unaligned_speech_s(words, mask, 0.0, audio.duration_s) > UNALIGNED_SPEECH_MAX_S
        ):
            if words is None and not parsed.timed:
                log.warning("the transcript could not be aligned to the audio as a whole")
            yield from _hinted_pieces(
                audio, parsed, fast, mask, whole_first=parsed.timed, whole=whole
            )
            return
        cuts_s = _cuts(middles, levels, audio.duration_s, words)
        if not cuts_s and whole is None:
            # No pause left to cut at between the words placed: the speech is aligned whole.
            whole = align_words(audio, transcript_words(text))
            if whole is None or not fits(whole, mask, 0.0, audio.duration_s):
                yield from _hinted_pieces(audio, parsed, fast, mask, whole_first=False, whole=whole)
                return
    if not cuts_s:
        # One piece, decoded whole.
        if text is None or mask is None:
            recognized = recognize_phones(audio, fast=fast)
            yield PhonePiece(0.0, audio.duration_s, recognized.phones, recognized.source)
            return
        assert whole is not None  # a transcript with text, untimed, that fits
        track = sphinx.build_track(whole.phones, audio.duration_s, "alignment")
        all_aligned = TranscriptCoverage(aligned_s=_mask_s(mask))
        yield PhonePiece(0.0, audio.duration_s, track.phones, track.source, all_aligned)
        return
    rate = audio.sample_rate
    cuts = [round(t * rate) for t in cuts_s]
    bounds = [0, *cuts, len(audio.samples)]
    for first, stop in pairwise(bounds):
        start_s, end_s = first / rate, stop / rate
        piece = Audio(audio.samples[first:stop], rate)
        if words is None:
            track = recognize_phones(piece, fast=fast)
        else:
            said = [word for word, a, b, _ in words if start_s <= 0.5 * (a + b) < end_s]
            alignment = align_words(piece, said) if said else None
            if (
                said
                and mask is not None
                and (
                    alignment is None
                    or not fits(alignment, _piece_mask(mask, start_s, end_s), 0.0, end_s - start_s)
                )
            ):
                # This piece's words do not fit its speech: used where they fit inside it.
                text_of_piece = Transcript((TranscriptSegment(" ".join(said)),))
                yield from _hinted_pieces(
                    piece, text_of_piece, fast, _piece_mask(mask, start_s, end_s),
                    whole_first=False, whole=alignment, offset_s=start_s,
                )  # fmt: skip
                continue
            if alignment is not None:
                track = sphinx.build_track(alignment.phones, piece.duration_s, "alignment")
            elif _speech_s(piece) >= UNTRANSCRIBED_SPEECH_MIN_S:
                log.warning(
                    "speech at %.1f-%.1f s has no words in the transcript: recognizing its phones",
                    start_s,
                    end_s,
                )
                track = recognize_phones(piece, fast=fast)
            else:
                yield PhonePiece(
                    start_s, end_s, (Phone(SILENCE, start_s, end_s),), "alignment",
                    TranscriptCoverage() if mask is not None else None,
                )  # fmt: skip
                continue
        # The piece's track covers it whole: its last phone ends exactly where the piece does.
        ends = [p.end_s + start_s for p in track.phones[:-1]] + [end_s]
        moved = tuple(
            Phone(p.label, p.start_s + start_s, min(end, end_s), p.confidence)
            for p, end in zip(track.phones, ends, strict=True)
        )
        covered: TranscriptCoverage | None = None
        if mask is not None:
            speech_s = _mask_s(_piece_mask(mask, start_s, end_s))
            covered = TranscriptCoverage(
                aligned_s=speech_s if track.source == "alignment" else 0.0,
                free_s=0.0 if track.source == "alignment" else speech_s,
            )
        yield PhonePiece(start_s, end_s, moved, track.source, covered)


def _piece_mask(mask: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    frames_per_s = 1000 / VAD_FRAME_MS
    return mask[round(start_s * frames_per_s) : round(end_s * frames_per_s)]


def _hinted_pieces(
    audio: Audio,
    transcript: Transcript,
    fast: bool,
    speech: np.ndarray,
    *,
    whole_first: bool,
    whole: Alignment | None = None,
    offset_s: float = 0.0,
) -> Iterator[PhonePiece]:
    """``hinted_parts`` as pieces (moved ``offset_s`` on), the coverage logged once all are
    found."""
    coverage = TranscriptCoverage()
    parts = hinted_parts(
        audio, transcript, fast=fast, whole_first=whole_first, whole=whole, speech=speech
    )
    for part in parts:
        coverage += part.coverage
        start_s, end_s = part.start_s + offset_s, part.end_s + offset_s
        if part.coverage.free_s > 0 and part.coverage.free_s == part.coverage.speech_s:
            log.warning(
                "speech at %.1f-%.1f s has no words in the transcript: recognizing its phones",
                start_s,
                end_s,
            )
        local = [(label, a - part.start_s, b - part.start_s, c) for label, a, b, c in part.spans]
        track = sphinx.build_track(local, part.end_s - part.start_s, part.source)
        ends = [p.end_s + start_s for p in track.phones[:-1]] + [end_s]
        moved = tuple(
            Phone(p.label, p.start_s + start_s, min(end, end_s), p.confidence)
            for p, end in zip(track.phones, ends, strict=True)
        )
        yield PhonePiece(start_s, end_s, moved, part.source, part.coverage)
    if not coverage.complete:
        where = f" at {offset_s:.1f}-{offset_s + audio.duration_s:.1f} s" if offset_s else ""
        log.warning("the transcript fits only part of the speech%s: %s", where, coverage.summary())


def _speech_s(audio: Audio) -> float:
    """Seconds of ``audio`` loud enough to be speech."""
    loud = speech_mask(frame_levels_db(audio.samples, audio.sample_rate))
    return float(np.count_nonzero(loud)) * VAD_FRAME_MS / 1000


def _mask_s(mask: np.ndarray) -> float:
    """Seconds of speech in a mask of 10 ms frames."""
    return float(np.count_nonzero(mask)) * VAD_FRAME_MS / 1000


def join_pieces(pieces: list[PhonePiece], duration_s: float) -> PhoneTrack:
    """One PhoneTrack of consecutive pieces; silence from the last piece's end on."""
    phones: list[Phone] = []
    for piece in pieces:
        for phone in piece.phones:
            if phones and phone.is_silence and phones[-1].is_silence:
                last = phones.pop()
                phone = Phone(
                    SILENCE, last.start_s, phone.end_s, min(last.confidence, phone.confidence)
                )
            phones.append(phone)
    end_s = phones[-1].end_s if phones else 0.0
    if end_s < duration_s:
        if phones and phones[-1].is_silence:
            last = phones.pop()
            phones.append(Phone(SILENCE, last.start_s, duration_s, last.confidence))
        else:
            phones.append(Phone(SILENCE, end_s, duration_s))
    sources = {piece.source for piece in pieces}
    source = sources.pop() if len(sources) == 1 else ("mixed" if sources else "recognition")
    coverages = [piece.coverage for piece in pieces if piece.coverage is not None]
    coverage = sum(coverages, TranscriptCoverage()) if coverages else None
    return PhoneTrack(tuple(phones), duration_s, source, coverage)
