"""Text → speech with exact phone timings: the built-in eSpeak NG voice or a TTS server.

``synthesize(text, voice, rate_wpm=, pitch=, backend=)`` returns a ``Speech``: the audio,
a gapless ARPAbet ``PhoneTrack`` covering it, and ``WordTiming``s. With the built-in voice
the phones are the synthesizer's own (source ``"synthesis"``), so lips can be exact; with a
server they come from forced alignment. ``synthesize_stream`` yields sentence by sentence.
"""

from __future__ import annotations

from headcast.speech.espeak import DEFAULT_VOICE, EspeakBackend, Voice, list_voices
from headcast.speech.remote import (
    HttpSpeechBackend,
    OpenAISpeechBackend,
    SpeechServerError,
)
from headcast.speech.sentences import split_sentences
from headcast.speech.spoken import Speech, WordTiming, join_speech
from headcast.speech.synthesize import (
    DEFAULT_MAX_TEXT_CHARS,
    SpeechBackend,
    check_text,
    get_backend,
    max_text_chars,
    synthesize,
    synthesize_stream,
)

__all__ = [
    "DEFAULT_MAX_TEXT_CHARS",
    "DEFAULT_VOICE",
    "EspeakBackend",
    "HttpSpeechBackend",
    "OpenAISpeechBackend",
    "Speech",
    "SpeechBackend",
    "SpeechServerError",
    "Voice",
    "WordTiming",
    "check_text",
    "get_backend",
    "join_speech",
    "list_voices",
    "max_text_chars",
    "split_sentences",
    "synthesize",
    "synthesize_stream",
]
