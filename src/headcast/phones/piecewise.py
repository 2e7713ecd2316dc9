"""A transcript that does not fit the speech word for word, used where it fits.

Each stretch of the audio the transcript speaks of (the whole clip, or each timed cue of a
subtitle file with a margin) is first aligned whole. Where that fails or fits badly (see
``fits``: speech under no word, phones squeezed), the stretch is cut at its pauses into
pieces. Pieces where the stretch's whole alignment fits on its own keep it; the others are
recognized with a model of the transcript's words (``guided``), and each aligned with the
transcript's own words where what was heard there follows the transcript, or with the words
heard otherwise. Between those words, speech the transcript has no words for keeps the
phones the guided recognizer heard there ("phone words"); a piece with no words of the
transcript is recognized. Every second of speech is counted as aligned, guided or free.

Phone words rather than the recognizer's phones between the words heard, measured on the
hard-audio table: transcripts with 20 % of words left out 0.933 against 0.928, 20 % wrong
0.924 against 0.919, room noise at 10 dB SNR 0.851 against 0.852, at 0 dB 0.411 against
0.428, at a real-time factor of 0.11-0.12 against 0.16-0.17 where the transcript does not fit.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from difflib import SequenceMatcher
from itertools import pairwise

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.vad import VAD_FRAME_MS, frame_levels_db, speech_mask
from headcast.audio.voice_gate import voice_frames
from headcast.phones import sphinx
from headcast.phones.align import Alignment, align_words, transcript_words
from headcast.phones.coverage import TranscriptCoverage
from headcast.phones.guided import guided_decoder, guided_words, is_phone_word, phone_words
from headcast.phones.phoneset import normalize_label
from headcast.phones.recognize import recognize_phones
from headcast.phones.track import SILENCE, PhoneTrack
from headcast.phones.transcript_files import Transcript

# An alignment fits when no run of speech this long lies under no word: a missing sentence
# or a second speaker leaves seconds of speech under the aligner's silence. Measured on the
# LibriVox clips: at most 0.15 s with their own transcripts, 0.20-0.35 s with 20 % of the
# words left out.
UNALIGNED_SPEECH_MAX_S = 0.18
# ... and when no more than this share of its phones last the shortest time the aligner
# allows (3 frames): words forced into speech that says others are squeezed. Measured: 0.06-0.12
# with the clips' own transcripts, 0.19-0.34 with neighbouring words swapped or 20 % wrong.
SQUEEZED_SHARE_MAX = 0.16
SHORTEST_PHONE_S = 0.03
# Speech is found by its levels unless they find next to none of what the voice gate hears:
# noise as loud as the speech hides it from them (at 0 dB SNR room noise, all of it in two of
# the five test clips). Measured with the transcript at 0 dB: 0.345 from the levels alone,
# 0.411 with this fallback. Trusting the gate more (at under half of its speech) gained at
# 10 dB too (0.852 → 0.875) but lost where the background is voices: 5 dB babble 0.851 → 0.668.
LEVEL_SPEECH_MIN_SHARE = 0.02
PAUSE_MIN_S = 0.25  # pieces are cut in the middle of pauses this long
CUE_MARGIN_S = 0.5  # a timed cue's words are looked for this far outside its times
# A piece is aligned with the transcript's words when at least this share of the time of the
# words heard there (guided) are the transcript's, in its order; else with the words heard.
# At 0.6 the same figures on the hard-audio table, but more pieces aligned twice (RTF 0.117
# against 0.102 for transcripts with 20 % of words wrong); at 0.95, two speakers 0.984 → 0.970.
MATCHED_SHARE_MIN = 0.8
# A piece is recognized freely when this share of the words heard there are words the
# transcript has already used up elsewhere: speech it has no words for.
SPARE_SHARE_MIN = 0.5
SPARE = -1  # the place of such a word
# ... and when less than this share of them come two or more in the transcript's order
# (heard as its words, they are scattered: a transcript of other speech).
IN_RUNS_SHARE_MIN = 0.5

FRAME_S = VAD_FRAME_MS / 1000

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class _Stretch:
    """Part of the clip and the transcript's words for it (none: speech nobody transcribed)."""

    start_s: float
    end_s: float
    words: list[str]


def speech_frames(audio: Audio, levels_db: np.ndarray | None = None) -> np.ndarray:
    """Which 10 ms frames of ``audio`` are speech: those loud enough, unless the levels find
    next to no speech where the voice gate hears some; then those the gate takes for voice.
    ``levels_db`` are the audio's ``frame_levels_db`` where the caller has them."""
    if levels_db is None:
        levels_db = frame_levels_db(audio.samples, audio.sample_rate)
    loud = speech_mask(levels_db)
    if np.count_nonzero(loud) >= LEVEL_SPEECH_MIN_SHARE * len(loud):
        return loud  # the gate cannot hear more speech than there are frames
    voice = voice_frames(audio.samples)
    voice = np.pad(voice, (0, max(len(loud) - len(voice), 0)))[: len(loud)]
    trusted = np.count_nonzero(loud) >= LEVEL_SPEECH_MIN_SHARE * np.count_nonzero(voice)
    return loud if trusted else voice


def _speech_s(mask: np.ndarray, start_s: float, end_s: float) -> float:
    return float(np.count_nonzero(mask[_frame(start_s) : _frame(end_s)])) * FRAME_S


def _frame(time_s: float) -> int:
    return max(int(round(time_s / FRAME_S)), 0)


def unaligned_speech_s(
    words: list[sphinx.Span], mask: np.ndarray, start_s: float, end_s: float
) -> float:
    """The longest run of speech in ``[start_s, end_s)`` that no word of ``words`` covers."""
    first, stop = _frame(start_s), min(_frame(end_s), len(mask))
    if stop <= first:
        return 0.0
    uncovered = mask[first:stop].copy()
    for _, a, b, _ in words:
        uncovered[max(_frame(a) - first, 0) : max(_frame(b) - first, 0)] = False
    edges = np.flatnonzero(np.diff(np.concatenate(([0], uncovered.view(np.int8), [0]))))
    runs = edges[1::2] - edges[::2]
    return float(runs.max()) * FRAME_S if len(runs) else 0.0


def fits(alignment: Alignment, mask: np.ndarray, start_s: float, end_s: float) -> bool:
    """Whether ``alignment`` (on the clip's timeline) fits the speech in ``[start_s, end_s)``:
    no long run of speech there under no word, not too many of its phones there squeezed to
    the shortest."""
    if unaligned_speech_s(alignment.words, mask, start_s, end_s) > UNALIGNED_SPEECH_MAX_S:
        return False
    spoken = [
        b - a
        for label, a, b, _ in alignment.phones
        if normalize_label(label) != SILENCE and start_s <= 0.5 * (a + b) < end_s
    ]
    squeezed = sum(length <= SHORTEST_PHONE_S + 1e-6 for length in spoken)
    return not spoken or squeezed / len(spoken) <= SQUEEZED_SHARE_MAX


def stretches(transcript: Transcript, duration_s: float) -> list[_Stretch]:
    """The parts of the clip and their words: the whole clip, or one part per timed cue
    (with ``CUE_MARGIN_S`` either side, split half-way where cues come closer) and the
    parts between cues, without words."""
    if not transcript.timed:
        return [_Stretch(0.0, duration_s, transcript_words(transcript.text))]
    cues = sorted(
        (s for s in transcript.segments if s.start_s is not None and s.start_s < duration_s),
        key=lambda s: s.start_s or 0.0,
    )
    parts: list[_Stretch] = []
    cursor = 0.0
    for index, cue in enumerate(cues):
        assert cue.start_s is not None and cue.end_s is not None
        start = max(cue.start_s - CUE_MARGIN_S, cursor)
        if start - cursor > 0:
            parts.append(_Stretch(cursor, start, []))
        following = cues[index + 1].start_s if index + 1 < len(cues) else None
        end = min(cue.end_s + CUE_MARGIN_S, duration_s)
        if following is not None and following - CUE_MARGIN_S < end:
            end = max(min(0.5 * (cue.end_s + following), duration_s), start)
        parts.append(_Stretch(start, end, transcript_words(cue.text)))
        cursor = end
    if cursor < duration_s:
        parts.append(_Stretch(cursor, duration_s, []))
    return [part for part in parts if part.end_s > part.start_s]


@dataclasses.dataclass(frozen=True)
class HintedPart:
    """The phone spans found in ``[start_s, end_s)`` of a clip (on its timeline), and how."""

    start_s: float
    end_s: float
    spans: list[sphinx.Span]
    coverage: TranscriptCoverage

    @property
    def source(self) -> str:
        """As PhoneTrack.source: ``alignment``, ``recognition``, ``guided`` or ``mixed``."""
        kinds = [
            kind
            for kind, seconds in (
                ("alignment", self.coverage.aligned_s),
                ("guided", self.coverage.guided_s),
                ("recognition", self.coverage.free_s),
            )
            if seconds > 0
        ]
        return kinds[0] if len(kinds) == 1 else ("mixed" if kinds else "alignment")


def hinted_parts(
    audio: Audio,
    transcript: Transcript,
    *,
    fast: bool = False,
    whole_first: bool = True,
    whole: Alignment | None = None,
    speech: np.ndarray | None = None,
) -> Iterator[HintedPart]:
    """The phones of 16 kHz mono speech a part at a time, in order, the parts tiling the clip,
    using ``transcript`` wherever it fits.

    For a caller who found that an untimed transcript does not fit the clip as a whole:
    ``whole_first=False`` skips aligning it whole again, and ``whole`` is that alignment,
    whose pieces are kept where they fit on their own. ``speech`` is ``speech_frames`` of
    the audio where the caller has them.
    """
    sphinx.validate(audio)
    mask = speech_frames(audio) if speech is None else speech
    for stretch in stretches(transcript, audio.duration_s):
        tried = whole if whole is not None and not transcript.timed else None
        yield from _stretch_parts(audio, stretch, mask, fast, whole_first, tried)


def hinted_phones(audio: Audio, transcript: Transcript, *, fast: bool = False) -> PhoneTrack:
    """The PhoneTrack of 16 kHz mono speech, using ``transcript`` wherever it fits; its
    ``coverage`` says how much of the speech was aligned, guided or recognized freely."""
    parts = list(hinted_parts(audio, transcript, fast=fast))
    coverage = sum((part.coverage for part in parts), TranscriptCoverage())
    sources = {part.source for part in parts if part.coverage.speech_s > 0}
    source = sources.pop() if len(sources) == 1 else "mixed"
    spans = [span for part in parts for span in part.spans]
    track = sphinx.build_track(spans, audio.duration_s, source)
    return dataclasses.replace(track, coverage=coverage)


def _part(audio: Audio, start_s: float, end_s: float) -> Audio:
    rate = audio.sample_rate
    return Audio(audio.samples[round(start_s * rate) : round(end_s * rate)], rate)


def _shifted(spans: list[sphinx.Span], offset_s: float) -> list[sphinx.Span]:
    return [(label, a + offset_s, b + offset_s, c) for label, a, b, c in spans]


def _placed(alignment: Alignment, offset_s: float) -> Alignment:
    return Alignment(_shifted(alignment.words, offset_s), _shifted(alignment.phones, offset_s))


def _stretch_parts(
    audio: Audio,
    stretch: _Stretch,
    mask: np.ndarray,
    fast: bool,
    whole_first: bool,
    tried: Alignment | None,
) -> Iterator[HintedPart]:
    start, end = stretch.start_s, stretch.end_s
    speech_s = _speech_s(mask, start, end)
    if speech_s == 0.0:
        yield HintedPart(start, end, [], TranscriptCoverage())
        return
    part = _part(audio, start, end)
    if not stretch.words:
        yield HintedPart(
            start, end, _recognized(part, start, fast), TranscriptCoverage(free_s=speech_s)
        )
        return
    placed = tried
    if placed is None and whole_first:
        alignment = align_words(part, stretch.words)
        placed = _placed(alignment, start) if alignment is not None else None
        if placed is not None and fits(placed, mask, start, end):
            yield HintedPart(start, end, placed.phones, TranscriptCoverage(aligned_s=speech_s))
            return
    pieces = [(a, b) for a, b in _pieces(mask, start, end)]
    # Pieces where the whole alignment fits keep it: only the others are heard (guided).
    kept = [placed is not None and fits(placed, mask, a, b) for a, b in pieces]
    decoder = guided_decoder(stretch.words) if not all(kept) else None
    heard: list[sphinx.Span] = []
    for (a, b), keep in zip(pieces, kept, strict=True):
        if _speech_s(mask, a, b) == 0:
            continue
        if keep:
            assert placed is not None
            heard += [span for span in placed.words if a <= 0.5 * (span[1] + span[2]) < b]
        else:
            assert decoder is not None
            heard += _shifted(guided_words(decoder, _part(audio, a, b)), a)
    matched = _transcript_indices(heard, stretch.words)
    for (a, b), keep in zip(pieces, kept, strict=True):
        if keep and _speech_s(mask, a, b) > 0:
            assert placed is not None
            aligned = TranscriptCoverage(aligned_s=_speech_s(mask, a, b))
            yield HintedPart(a, b, _clipped(placed.phones, [(a, b)]), aligned)
            continue
        found, covered = _piece_phones(audio, a, b, heard, matched, stretch.words, mask, fast)
        yield HintedPart(a, b, found, covered)


def _transcript_indices(heard: list[sphinx.Span], words: list[str]) -> list[int | None]:
    """For each word heard, its place in ``words`` where it is part of a run said in the
    transcript's order; ``SPARE`` where the transcript's every use of the word is heard
    elsewhere (speech it has no words for, heard as its words); None for the others."""
    said = [word for word, _, _, _ in heard]
    places: list[int | None] = [None] * len(said)
    matcher = SequenceMatcher(None, said, words, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            places[block.a + k] = block.b + k
    unused = Counter(words) - Counter(
        said[k] for k, place in enumerate(places) if place is not None
    )
    for k, word in enumerate(said):
        if places[k] is None and not is_phone_word(word):
            if unused[word] > 0:
                unused[word] -= 1  # said elsewhere than the transcript has it
            else:
                places[k] = SPARE
    return places


def _pieces(mask: np.ndarray, start_s: float, end_s: float) -> Iterator[tuple[float, float]]:
    """``[start_s, end_s)`` cut in the middle of its pauses of at least ``PAUSE_MIN_S``."""
    first, stop = _frame(start_s), min(_frame(end_s), len(mask))
    quiet = ~mask[first:stop]
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.view(np.int8), [0]))))
    cuts = [
        start_s + 0.5 * (a + b) * FRAME_S
        for a, b in zip(edges[::2], edges[1::2], strict=True)
        if (b - a) * FRAME_S >= PAUSE_MIN_S and a > 0 and b < len(quiet)
    ]
    yield from pairwise([start_s, *cuts, end_s])


def _piece_phones(
    audio: Audio,
    start: float,
    end: float,
    heard: list[sphinx.Span],
    matched: list[int | None],
    words: list[str],
    mask: np.ndarray,
    fast: bool,
) -> tuple[list[sphinx.Span], TranscriptCoverage]:
    speech_s = _speech_s(mask, start, end)
    if speech_s == 0.0:
        return [], TranscriptCoverage()
    part = _part(audio, start, end)
    inside = [k for k, (_, a, b, _) in enumerate(heard) if start <= 0.5 * (a + b) < end]
    spoken = [k for k in inside if not is_phone_word(heard[k][0])]
    if not spoken:
        return _recognized(part, start, fast), TranscriptCoverage(free_s=speech_s)
    places = [place for k in inside if (place := matched[k]) is not None and place != SPARE]
    heard_s = sum(heard[k][2] - heard[k][1] for k in inside)

    def share(keep: Callable[[int | None], bool]) -> float:
        kept = sum(heard[k][2] - heard[k][1] for k in inside if keep(matched[k]))
        return kept / heard_s if heard_s > 0 else 0.0

    pairs = set(pairwise(words))
    in_runs = sum(
        heard[k][2] - heard[k][1]
        for k in inside
        if (k > 0 and (heard[k - 1][0], heard[k][0]) in pairs)
        or (k + 1 < len(heard) and (heard[k][0], heard[k + 1][0]) in pairs)
    )
    if share(lambda place: place == SPARE) >= SPARE_SHARE_MIN or (
        heard_s > 0 and in_runs / heard_s < IN_RUNS_SHARE_MIN
    ):
        return _recognized(part, start, fast), TranscriptCoverage(free_s=speech_s)
    if places and share(lambda place: place is not None and place != SPARE) >= MATCHED_SHARE_MIN:
        first, last = min(places), max(places)
        alignment = align_words(part, words[first : last + 1])
        if alignment is not None:
            placed = _placed(alignment, start)
            if fits(placed, mask, start, end):
                return placed.phones, TranscriptCoverage(aligned_s=speech_s)
    alignment = align_words(part, [heard[k][0] for k in inside], extra_words=phone_words())
    if alignment is None:
        return _recognized(part, start, fast), TranscriptCoverage(free_s=speech_s)
    free_s = sum(
        _speech_s(mask, a + start, b + start)
        for word, a, b, _ in alignment.words
        if is_phone_word(word)
    )
    free_s = min(free_s, speech_s)
    # Where no word of the transcript was heard, the phones of the phone words heard there.
    return _shifted(alignment.phones, start), TranscriptCoverage(
        guided_s=speech_s - free_s, free_s=free_s
    )


def _clipped(spans: list[sphinx.Span], gaps: list[tuple[float, float]]) -> list[sphinx.Span]:
    """``spans`` cut to ``gaps``."""
    return [
        (label, max(x, a), min(y, b), c)
        for label, x, y, c in spans
        for a, b in gaps
        if min(y, b) > max(x, a)
    ]


def _recognized(part: Audio, start_s: float, fast: bool) -> list[sphinx.Span]:
    track = recognize_phones(part, fast=fast)
    return [(p.label, p.start_s + start_s, p.end_s + start_s, p.confidence) for p in track.phones]
