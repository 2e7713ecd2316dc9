"""Text → Speech through a backend: the built-in eSpeak voice or a TTS server.

Text is checked (not empty, within the length limit), split into sentences and spoken piece
by piece; ``synthesize_stream`` yields each piece, ``synthesize`` joins them.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Protocol

from headcast.errors import InputError
from headcast.phones.track import SILENCE
from headcast.settings import DEFAULT_MAX_TEXT_CHARS, max_text_chars
from headcast.settings import MAX_TEXT_CHARS as MAX_TEXT_CHARS_ENV
from headcast.speech.espeak import EspeakBackend
from headcast.speech.remote import HttpSpeechBackend, OpenAISpeechBackend
from headcast.speech.sentences import iter_sentences, normalize_text
from headcast.speech.spoken import Speech, join_speech

log = logging.getLogger(__name__)

BUILTIN = "builtin"


class SpeechBackend(Protocol):
    """Speaks one piece of text. ``max_chunk_chars`` groups sentences per call (0: one each)."""

    name: str
    default_voice: str
    max_chunk_chars: int

    def check_voice(self, voice: str) -> None: ...

    def check_options(self, rate_wpm: float | None, pitch: float | None) -> None: ...

    def synthesize(
        self, text: str, voice: str, *, rate_wpm: float | None = None, pitch: float | None = None
    ) -> Speech: ...


def check_text(text: str, max_chars: int | None = None) -> str:
    """The text, normalised; InputError when it is empty or longer than the limit."""
    if not isinstance(text, str):
        raise InputError("the text must be a string")
    clean = normalize_text(text)
    if not clean:
        raise InputError("the text is empty: there is nothing to say")
    limit = max_text_chars() if max_chars is None else max_chars
    if len(clean) > limit:
        raise InputError(
            f"the text is {len(clean):,} characters long; the limit is {limit:,} "
            f"(set ${MAX_TEXT_CHARS_ENV} to change it)"
        )
    return clean


def get_backend(backend: str | SpeechBackend | None = BUILTIN) -> SpeechBackend:
    """A backend from its spec.

    ``builtin`` (or None): eSpeak NG. ``http(s)://host[:port][/v1[/audio/speech]]``: an
    OpenAI-style server. A URL holding ``{text}``: a GET endpoint with the text in the URL.
    Any other URL: POST ``{"text": ..., "voice": ...}`` as JSON. Prefixes force a kind:
    ``openai:URL``, ``get:URL``, ``json:URL``, ``form:URL``.
    """
    if backend is None or (
        isinstance(backend, str) and backend.strip().lower() in ("", BUILTIN, "espeak")
    ):
        return EspeakBackend()
    if not isinstance(backend, str):
        return backend
    spec = backend.strip()
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    if kind in ("openai", "get", "json", "form") and rest.lower().startswith("http"):
        if kind == "openai":
            return OpenAISpeechBackend(rest)
        return HttpSpeechBackend(rest, body=None if kind == "get" else kind)
    parts = urllib.parse.urlsplit(spec)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError(
            f"unknown TTS backend '{spec}': use 'builtin' or the URL of a TTS server "
            "(http://host:port for an OpenAI-style /v1/audio/speech server)"
        )
    if "{text}" in spec:
        return HttpSpeechBackend(spec)
    if parts.path.rstrip("/") in ("", "/v1", "/v1/audio/speech"):
        return OpenAISpeechBackend(spec)
    return HttpSpeechBackend(spec, body="json")


def synthesize_stream(
    text: str,
    voice: str | None = None,
    *,
    rate_wpm: float | None = None,
    pitch: float | None = None,
    backend: str | SpeechBackend | None = BUILTIN,
    max_chars: int | None = None,
) -> Iterator[Speech]:
    """Speak ``text`` sentence by sentence, yielding one Speech per piece as it is made.

    Everything that can be checked before speaking (text, voice, rate, pitch, backend) is
    checked when this is called, raising InputError; server failures come while iterating.
    Raises InputError at the end if no piece had anything to say.
    """
    engine = get_backend(backend)
    clean = check_text(text, max_chars)
    chosen = voice.strip() if voice and voice.strip() else engine.default_voice
    engine.check_voice(chosen)
    engine.check_options(rate_wpm, pitch)
    pieces = _group(iter_sentences(clean), engine.max_chunk_chars)
    return _speak(engine, pieces, chosen, rate_wpm, pitch)


def _speak(
    engine: SpeechBackend,
    pieces: Iterable[str],
    voice: str,
    rate_wpm: float | None,
    pitch: float | None,
) -> Iterator[Speech]:
    said = False
    for piece in pieces:
        speech = engine.synthesize(piece, voice, rate_wpm=rate_wpm, pitch=pitch)
        if len(speech.audio.samples) == 0:
            continue
        said = said or any(p.label != SILENCE for p in speech.phones.phones)
        yield speech
    if not said:
        raise InputError("the text has nothing to say (no words that can be spoken)")


def synthesize(
    text: str,
    voice: str | None = None,
    *,
    rate_wpm: float | None = None,
    pitch: float | None = None,
    backend: str | SpeechBackend | None = BUILTIN,
    max_chars: int | None = None,
) -> Speech:
    """Speak ``text``: the audio, its exact phone track and word timings, in one Speech.

    ``voice``: a built-in voice (``en-us``, ``de``, ``fr-fr+f3``; see ``list_voices()``) or a
    server's voice name; None picks the backend's default. ``rate_wpm``: words per minute
    (built-in: 80-450, default 175). ``pitch``: 0-99 (built-in; default 50). ``backend``:
    ``"builtin"``, a server URL (see ``get_backend``) or a backend object. Raises InputError
    for bad input and SpeechServerError when a server fails.
    """
    return join_speech(
        synthesize_stream(
            text, voice, rate_wpm=rate_wpm, pitch=pitch, backend=backend, max_chars=max_chars
        )
    )


def _group(sentences: Iterable[str], max_chars: int) -> Iterator[str]:
    """Consecutive sentences joined up to ``max_chars`` (0: each sentence alone)."""
    pending: list[str] = []
    size = 0
    for sentence in sentences:
        if pending and (max_chars <= 0 or size + 1 + len(sentence) > max_chars):
            yield " ".join(pending)
            pending, size = [], 0
        pending.append(sentence)
        size += len(sentence) + (1 if size else 0)
    if pending:
        yield " ".join(pending)


__all__ = [
    "BUILTIN",
    "DEFAULT_MAX_TEXT_CHARS",
    "MAX_TEXT_CHARS_ENV",
    "SpeechBackend",
    "check_text",
    "get_backend",
    "max_text_chars",
    "synthesize",
    "synthesize_stream",
]
