"""Forced alignment of a known transcript with pocketsphinx's bundled en-us model.

The steps follow ``pocketsphinx align -phone_align yes``: a word-level pass with the
transcript as a grammar (optional silences and fillers between words, alternative
pronunciations), then a second pass that aligns phones and states inside those words.
On the LibriVox test clips it reproduces that program's phone boundaries within a frame.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from pocketsphinx import Decoder

from headcast.audio.clip import Audio
from headcast.phones import sphinx
from headcast.phones.recognize import recognize_phones
from headcast.phones.track import PhoneTrack

log = logging.getLogger(__name__)

_ALIGN_OPTIONS = {"lm": None, "bestpath": False}  # as `pocketsphinx align`: no LM, no bestpath

_ONES = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_ALTERNATIVE = re.compile(r"\(\d+\)$")  # "read(2)": the dictionary's second pronunciation
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at "}

# Spelling → phones for words missing from the dictionary: crude, but it keeps the mouth
# shapes that matter most (bilabials, labiodentals, rounding) where the audio has them.
_LETTER_GROUPS = {
    "tch": "CH", "igh": "AY", "sch": "S K", "ch": "CH", "sh": "SH", "th": "TH", "ph": "F",
    "ng": "NG", "ck": "K", "qu": "K W", "wh": "W", "gh": "", "ee": "IY", "ea": "IY",
    "oo": "UW", "ou": "AW", "ow": "OW", "ai": "EY", "ay": "EY", "ei": "EY", "ey": "EY",
    "oi": "OY", "oy": "OY", "au": "AO", "aw": "AO", "ie": "IY", "oa": "OW", "ue": "UW",
    "ew": "UW", "ar": "AA R", "er": "ER", "ir": "ER", "ur": "ER", "or": "AO R",
    "a": "AE", "b": "B", "c": "K", "d": "D", "e": "EH", "f": "F", "g": "G", "h": "HH",
    "i": "IH", "j": "JH", "k": "K", "l": "L", "m": "M", "n": "N", "o": "AA", "p": "P",
    "q": "K", "r": "R", "s": "S", "t": "T", "u": "AH", "v": "V", "w": "W", "x": "K S",
    "y": "IY", "z": "Z",
}  # fmt: skip


def number_words(number: int) -> str:
    """English words for a non-negative integer; four-digit numbers read as years (1984)."""
    if number < 20:
        return _ONES[number]
    if number < 100:
        tens, ones = divmod(number, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if 1100 <= number < 10_000 and number % 1000 and not 2000 < number < 2010:
        high, low = divmod(number, 100)  # "nineteen eighty four", "eleven hundred"
        tail = "hundred" if low == 0 else (f"oh {_ONES[low]}" if low < 10 else number_words(low))
        return f"{number_words(high)} {tail}"
    for size, name in (
        (10**9, "billion"),
        (10**6, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ):
        if number >= size:
            high, rest = divmod(number, size)
            if high >= 1000 and size == 10**9:
                break
            return f"{number_words(high)} {name}" + (f" {number_words(rest)}" if rest else "")
    return " ".join(_ONES[int(digit)] for digit in str(number))


def transcript_words(transcript: str) -> list[str]:
    """The words of a transcript as the dictionary spells them.

    Lower case; ``&``, ``%``, ``+``, ``@`` and numbers spelled out; hyphens and other
    punctuation split words; apostrophes inside words kept (``don't``, ``john's``).
    """
    text = transcript.lower().replace("\u2019", "'").replace("\u2018", "'")
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = re.sub(r"(\d)[,.](?=\d{3}\b)", r"\1", text)  # 1,000 → 1000
    text = re.sub(r"(\d)\.(\d+)", lambda m: f"{m[1]} point {' '.join(m[2])}", text)
    text = re.sub(r"\d+", lambda match: f" {number_words(int(match.group()))} ", text)
    text = re.sub(r"[^a-z']+", " ", text)
    return [word.strip("'") for word in text.split() if word.strip("'")]


def spelled_phones(word: str) -> str:
    """A rough ARPAbet pronunciation from spelling alone (for words not in the dictionary)."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if len(letters) > 2 and letters.endswith("e") and letters[-2] not in "aeiouy":
        letters = letters[:-1]  # silent final e
    phones: list[str] = []
    index = 0
    while index < len(letters):
        for size in (3, 2, 1):
            group = letters[index : index + size]
            if len(group) == size and group in _LETTER_GROUPS:
                break
        following = letters[index + size : index + size + 1]
        if group == "c" and following in ("e", "i", "y"):
            sound = "S"
        elif group == "y" and index == 0:
            sound = "Y"
        elif group == "h" and following not in tuple("aeiouy"):
            sound = ""  # silent h: "shh", "ohm"
        else:
            sound = _LETTER_GROUPS[group]
        for phone in sound.split():
            if not phones or phones[-1] != phone:  # doubled letters: one sound
                phones.append(phone)
        index += size
    return " ".join(phones)


def _guess_phones(dec: Decoder, word: str) -> str:
    """A pronunciation for a word the dictionary lacks: possessive of a known word, or spelling."""
    base = dec.lookup_word(word[:-2]) if word.endswith("'s") else None
    if base is None:
        return spelled_phones(word)
    last = base.split()[-1]
    if last in {"S", "Z", "SH", "ZH", "CH", "JH"}:
        return f"{base} IH Z"
    return f"{base} {'S' if last in {'P', 'T', 'K', 'F', 'TH'} else 'Z'}"


def _pronounceable(dec: Decoder, words: list[str]) -> list[str]:
    """``words`` with every word known to the decoder, adding guessed pronunciations."""
    known: list[str] = []
    for word in words:
        if dec.lookup_word(word) is None:
            phones = _guess_phones(dec, word)
            if not phones:
                log.warning("cannot pronounce %r: left out of the alignment", word)
                continue
            log.warning("%r is not in the dictionary: aligning it as /%s/", word, phones)
            dec.add_word(word, phones, True)
        known.append(word)
    return known


def pronunciations(words: list[str]) -> dict[str, str]:
    """Each word's first pronunciation in the dictionary, or one guessed (see ``align_words``);
    words that cannot be pronounced are left out."""
    known: dict[str, str] = {}
    with sphinx.decoder(**_ALIGN_OPTIONS) as dec:
        for word in _pronounceable(dec, list(dict.fromkeys(words))):
            phones = dec.lookup_word(word)
            if phones:
                known[word] = phones
    return known


@dataclass(frozen=True)
class Alignment:
    """Where each word and phone of a transcript is said, on the audio's timeline."""

    words: list[sphinx.Span]  # without silences and fillers; alternatives as plain words
    phones: list[sphinx.Span]


def align_words(
    audio: Audio, words: list[str], *, extra_words: dict[str, str] | None = None
) -> Alignment | None:
    """The two alignment passes over ``audio`` for ``words`` (as ``transcript_words`` gives
    them; unknown words get a guessed pronunciation, ``extra_words`` the one given), or None
    if they do not fit the audio."""
    utterance = sphinx.utterance(audio)
    if not words or not utterance.pcm:
        return None
    with sphinx.decoder(**_ALIGN_OPTIONS) as dec:
        for word, pronunciation in (extra_words or {}).items():
            if dec.lookup_word(word) is None:
                dec.add_word(word, pronunciation, True)
        words = _pronounceable(dec, words)
        found = _align(dec, utterance.pcm, " ".join(words)) if words else None
    if found is None:
        return None
    said, phones = found
    return Alignment(_whole_words(utterance, said), utterance.original_spans(phones))


def align_phones(audio: Audio, transcript: str, *, fast: bool = False) -> PhoneTrack:
    """Phones of ``transcript`` timed against 16 kHz mono speech (source ``"alignment"``).

    Words missing from the dictionary are aligned with a pronunciation guessed from their
    spelling (logged as a warning). If the transcript has no words or cannot be aligned to
    the audio, the phones are recognized instead (source ``"recognition"``, also logged; with
    the cheaper recognizer where ``fast``). Raises InputError for empty audio or another
    sample rate.
    """
    sphinx.validate(audio)
    alignment = align_words(audio, transcript_words(transcript))
    if alignment is None:
        log.warning("the transcript could not be aligned to the audio: recognizing phones instead")
        return recognize_phones(audio, fast=fast)
    return sphinx.build_track(alignment.phones, audio.duration_s, "alignment")


def word_spans(audio: Audio, transcript: str) -> list[sphinx.Span] | None:
    """Where each word of ``transcript`` is said: the alignment's first, word-level pass alone.

    Words as the dictionary spells them, on the audio's timeline; None when the transcript has
    no words, the audio no sound, or the two cannot be aligned (each logged as a warning).
    Words missing from the dictionary get a pronunciation
    guessed from their spelling (also logged).
    """
    utterance = sphinx.utterance(audio)
    words = transcript_words(transcript)
    if not words or not utterance.pcm:
        log.warning("nothing to align (no words or no sound)")
        return None
    segments = None
    with sphinx.decoder(**_ALIGN_OPTIONS) as dec:
        words = _pronounceable(dec, words)
        try:
            if words:
                dec.set_align_text(" ".join(words))
                sphinx.decode(dec, utterance.pcm)
                if dec.hyp() is not None:
                    segments = list(dec.seg())
        except RuntimeError:
            segments = None
    if segments is None:
        log.warning("the transcript could not be aligned to the audio as a whole")
        return None
    said = [(seg.word, seg.start_frame, seg.end_frame + 1) for seg in segments]
    return _whole_words(utterance, said)


def _whole_words(
    utterance: sphinx.Utterance, said: list[tuple[str, int, int]]
) -> list[sphinx.Span]:
    """Word segments ``(word, first frame, end frame)`` of the decoded PCM as spans on the
    audio's timeline, silences and fillers left out."""
    rate = sphinx.FRAMES_PER_S
    spans: list[sphinx.Span] = []
    for word, start, end in said:
        if word.startswith(("<", "[")):
            continue  # silences and fillers
        # One span per word, even where it runs across a stretch of digital silence.
        pieces = utterance.original_spans([(word, start / rate, end / rate, 1.0)])
        if pieces:
            spans.append((_ALTERNATIVE.sub("", word), pieces[0][1], pieces[-1][2], 1.0))
    return spans


def _align(
    dec: Decoder, pcm: bytes | memoryview, text: str
) -> tuple[list[tuple[str, int, int]], list[sphinx.Span]] | None:
    """Word segments (word, first frame, end frame) and phone spans from the two alignment
    passes, on the decoded PCM's timeline, or None if the text does not fit the audio."""
    try:
        dec.set_align_text(text)
        sphinx.decode(dec, pcm)
        if dec.hyp() is None:
            return None
        said = [(seg.word, seg.start_frame, seg.end_frame + 1) for seg in dec.seg()]
        dec.set_alignment()
        sphinx.decode(dec, pcm, fresh=False)  # as `pocketsphinx align`: state of pass one
        alignment = dec.get_alignment()
    except RuntimeError:
        return None
    if alignment is None:
        return None
    logmath = dec.get_logmath()
    rate = sphinx.FRAMES_PER_S
    return said, [
        (entry.name, entry.start / rate, (entry.start + entry.duration) / rate,
         logmath.exp(entry.score))
        for entry in alignment.phones()
    ]  # fmt: skip
