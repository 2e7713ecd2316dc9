"""The built-in voice: eSpeak NG (no system package: ``espeakng-loader`` ships it).

PHONEME events carry the sample at which each phoneme starts, so the phone track is exact;
WORD events give the words. eSpeak is one global state, so a single lock serialises every
call into it (``espeak_lib``); synthesis runs ~600x faster than real time, so the lock is
rarely contended. Voices: ``list_voices()``; rate, pitch and punctuation pauses are eSpeak's.
"""

from __future__ import annotations

import difflib
import unicodedata
from functools import lru_cache

import numpy as np

from headcast.audio.clip import Audio
from headcast.errors import InputError
from headcast.phones.track import SILENCE
from headcast.speech.espeak_lib import LOCK, Collector, Voice, engine
from headcast.speech.phone_map import map_phoneme
from headcast.speech.spoken import Speech, WordTiming, track_from_boundaries

DEFAULT_VOICE = "en-us"
RATE_MIN_WPM, RATE_MAX_WPM, RATE_DEFAULT_WPM = 80, 450, 175
PITCH_MIN, PITCH_MAX, PITCH_DEFAULT = 0, 99, 50

_STOPS = frozenset({"P", "B", "T", "D", "K", "G", "CH", "JH"})
_MAX_CLOSURE_S = 0.12  # longest closure silence moved into a stop
_MIN_PHONE_S = 0.01  # shortest phone left before a moved boundary
_CLOSURE_LEVEL = 2.0 / 32768  # eSpeak's closures are digital silence


def list_voices() -> list[Voice]:
    """Every voice of the built-in engine, sorted by language code."""
    return list(_voices())


@lru_cache(maxsize=1)
def _voices() -> tuple[Voice, ...]:
    with LOCK:
        voices = engine().voices()
    return tuple(sorted(voices, key=lambda v: (v.language, v.name)))


@lru_cache(maxsize=1)
def list_variants() -> list[str]:
    """Voice variants (``en-us+f3``: ``f3``), the files of eSpeak's ``voices/!v`` folder."""
    with LOCK:
        folder = engine().data_path / "voices" / "!v"
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


@lru_cache(maxsize=256)
def resolve_voice(spec: str) -> tuple[Voice, str]:
    """``(voice, eSpeak voice key)`` for a language code, voice file or name, ``+variant``.

    ``en-us``, ``en_US``, ``gmw/en-US``, ``English (America)``, ``de+f3``. Raises InputError
    naming some available voices for anything else.
    """
    base, _, variant = spec.strip().partition("+")
    wanted = base.strip().lower().replace("_", "-")
    voices = list_voices()
    found = _find_voice(wanted, voices) if wanted else None
    if found is None:
        raise InputError(unknown_voice_message(spec, voices))
    key = found.identifier
    if variant:
        names = {v.lower(): v for v in list_variants()}
        if variant.strip().lower() not in names:
            sample = ", ".join(sorted(names.values())[:12])
            raise InputError(
                f"unknown voice variant '{variant}' in '{spec}'; variants include {sample} "
                f"(e.g. {found.language}+f3)"
            )
        key = f"{key}+{names[variant.strip().lower()]}"
    return found, key


def _find_voice(wanted: str, voices: list[Voice]) -> Voice | None:
    for voice in voices:
        identifier = voice.identifier.lower()
        if wanted in (identifier, identifier.rsplit("/", 1)[-1]):
            return voice
    best: tuple[int, Voice] | None = None
    for voice in voices:
        if wanted in voice.languages:
            rank = voice.languages.index(wanted)
            if best is None or rank < best[0]:
                best = (rank, voice)
    if best is not None:
        return best[1]
    for voice in voices:
        if voice.name.lower() == wanted:
            return voice
    return None


def unknown_voice_message(spec: str, voices: list[Voice]) -> str:
    codes = sorted({v.language for v in voices})
    close = difflib.get_close_matches(spec.strip().lower(), codes, n=5, cutoff=0.5)
    common = [c for c in ("en-us", "en-gb", "de", "fr-fr", "es", "it", "pt", "nl", "ru", "cmn")
              if c in codes]  # fmt: skip
    shown = close + [c for c in common if c not in close]
    return (
        f"unknown voice '{spec}'; available voices include {', '.join(shown[:10])} "
        f"({len(voices)} in all: run `headcast tts --list-voices` to list them)"
    )


def check_rate_pitch(rate_wpm: float | None, pitch: float | None) -> tuple[int, int]:
    """Validated (rate, pitch), defaults filled in; InputError outside eSpeak's ranges."""
    if rate_wpm is None:
        rate = RATE_DEFAULT_WPM
    elif not RATE_MIN_WPM <= rate_wpm <= RATE_MAX_WPM:
        raise InputError(
            f"rate must be between {RATE_MIN_WPM} and {RATE_MAX_WPM} words per minute, "
            f"got {rate_wpm:g}"
        )
    else:
        rate = round(rate_wpm)
    if pitch is None:
        level = PITCH_DEFAULT
    elif not PITCH_MIN <= pitch <= PITCH_MAX:
        raise InputError(f"pitch must be between {PITCH_MIN} and {PITCH_MAX}, got {pitch:g}")
    else:
        level = round(pitch)
    return rate, level


def synthesize_sentence(
    text: str,
    voice: str = DEFAULT_VOICE,
    *,
    rate_wpm: float | None = None,
    pitch: float | None = None,
) -> Speech:
    """Speak one sentence (or any short text) with the built-in voice.

    The audio is 22.05 kHz mono; the phone track (source ``"synthesis"``) is eSpeak's own
    phoneme timing, ending with the sentence pause.
    """
    found, key = resolve_voice(voice)
    rate, level = check_rate_pitch(rate_wpm, pitch)
    with LOCK:
        espeak = engine()
        espeak.set_voice(key)
        collected = espeak.synth(text, rate, level)
    return _speech(text, collected, found.language)


def _speech(text: str, collected: Collector, language: str) -> Speech:
    rate = collected.sample_rate
    raw = b"".join(collected.chunks)
    samples = np.frombuffer(raw, dtype="<i2").astype(np.float32) * np.float32(1.0 / 32768.0)
    n = len(samples)
    # Phoneme boundaries: each event starts a phone that ends where the next one starts.
    starts: list[tuple[int, tuple[tuple[str, int], ...], int]] = []
    cursor = 0
    for sample, name, word in collected.phonemes:
        mapped = map_phoneme(name, language)
        if not mapped:
            continue  # no sound of its own: its time stays with the phone before
        sample = min(max(sample, cursor), n)
        cursor = sample
        starts.append((sample, mapped, word))
    spans: list[list] = []  # [label, start, end, word number]
    for i, (start, mapped, word) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else n
        if end <= start:
            continue
        total = sum(weight for _, weight in mapped)
        position, acc = start, 0
        for label, weight in mapped:
            acc += weight
            stop = start + (end - start) * acc // total
            if stop > position:
                spans.append([label, position, stop, word])
            position = stop
    _include_stop_closures(spans, samples, rate)
    word_spans: dict[int, list[int]] = {}
    for label, start, end, word in spans:
        if word >= 0 and label != SILENCE:
            span = word_spans.setdefault(word, [start, end])
            span[0], span[1] = min(span[0], start), max(span[1], end)
    boundaries = [(label, start, end) for label, start, end, _ in spans]
    track = track_from_boundaries(boundaries, n, rate, "synthesis")
    words = _word_timings(text, collected.words, word_spans, rate)
    return Speech(audio=Audio(samples, rate), phones=track, words=words)


def _include_stop_closures(spans: list[list], samples: np.ndarray, rate: int) -> None:
    """Give each stop consonant the closure silence eSpeak books to the phone before it.

    eSpeak's PHONEME event for /p b t d k g/ comes at the release burst; the silent closure
    before it (when the lips or tongue already block the air: for /p/ the lips are shut)
    falls in the previous phone. Moving the boundary back to where that silence begins puts
    the closure inside the stop, where the mouth shape belongs.
    """
    longest = int(_MAX_CLOSURE_S * rate)
    keep = int(_MIN_PHONE_S * rate)
    quiet = np.abs(samples) <= _CLOSURE_LEVEL
    for i in range(1, len(spans)):
        label, start = spans[i][0], spans[i][1]
        before = spans[i - 1]
        if label not in _STOPS or before[0] == SILENCE:
            continue
        limit = max(before[1] + keep, start - longest)
        boundary = start
        while boundary > limit and quiet[boundary - 1]:
            boundary -= 1
        if start - boundary >= keep:  # a real closure, not a zero crossing
            before[2] = spans[i][1] = boundary


def _word_timings(
    text: str,
    events: list[tuple[int, int, int]],
    phone_spans: dict[int, list[int]],
    rate: int,
) -> list[WordTiming]:
    """Words as written, timed by their phones.

    eSpeak sends one WORD event per spoken word; a number or abbreviation spoken as several
    words sends several events inside one written word, which are merged back into it.
    """
    groups: list[list] = []  # [text start, text end, first sample, last sample, event sample]
    for index, (sample, position, length) in enumerate(events):
        span = phone_spans.get(index)
        if groups and position < groups[-1][1]:
            group = groups[-1]
            group[1] = max(group[1], position + length)
        else:
            group = [position, position + length, None, None, sample]
            groups.append(group)
        if span is not None:
            group[2] = span[0] if group[2] is None else min(group[2], span[0])
            group[3] = span[1] if group[3] is None else max(group[3], span[1])
    out: list[WordTiming] = []
    for i, (position, end, first, last, sample) in enumerate(groups):
        start, stop = (sample, sample) if first is None else (first, last)
        limit = groups[i + 1][0] if i + 1 < len(groups) else len(text)
        while end < limit and not text[end].isspace():
            end += 1
        word = _strip_punctuation(text[position:end])
        if word:
            out.append(WordTiming(word, start / rate, stop / rate))
    return out


def _strip_punctuation(word: str) -> str:
    """A written word without the punctuation and markup signs around it (``"<b>``)."""
    word = word.strip()
    trimmed = word
    while trimmed and _is_edge_mark(trimmed[0]):
        trimmed = trimmed[1:]
    while trimmed and _is_edge_mark(trimmed[-1]):
        trimmed = trimmed[:-1]
    return trimmed or word


def _is_edge_mark(char: str) -> bool:
    category = unicodedata.category(char)
    return category.startswith("P") or category in ("Sm", "Sk")


class EspeakBackend:
    """The built-in speech backend (``backend="builtin"``)."""

    name = "builtin"
    default_voice = DEFAULT_VOICE
    max_chunk_chars = 0  # one sentence per call: each ends with its own pause

    def check_voice(self, voice: str) -> None:
        resolve_voice(voice)

    def check_options(self, rate_wpm: float | None, pitch: float | None) -> None:
        check_rate_pitch(rate_wpm, pitch)

    def synthesize(
        self, text: str, voice: str, *, rate_wpm: float | None = None, pitch: float | None = None
    ) -> Speech:
        return synthesize_sentence(text, voice, rate_wpm=rate_wpm, pitch=pitch)

    def __repr__(self) -> str:
        return "EspeakBackend()"


__all__ = [
    "DEFAULT_VOICE",
    "PITCH_MAX",
    "PITCH_MIN",
    "RATE_MAX_WPM",
    "RATE_MIN_WPM",
    "EspeakBackend",
    "Voice",
    "check_rate_pitch",
    "list_variants",
    "list_voices",
    "resolve_voice",
    "synthesize_sentence",
]
