"""ctypes binding of eSpeak NG (``speak_lib.h``) on the library and data in ``espeakng-loader``.

eSpeak runs in synchronous mode: ``espeak_Synth`` returns when the text is spoken, having
handed every audio buffer and event (PHONEME events as IPA, WORD events) to our callback on
the calling thread. eSpeak is one global state: hold ``LOCK`` around every use of ``engine()``.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from pathlib import Path

from headcast.errors import HeadcastError, InputError

# speak_lib.h
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES = 0x100  # text inside [[ ]] is eSpeak phoneme code
_ENDPAUSE = 0x1000  # a sentence pause after the text
_POS_CHARACTER = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_PHONEME = 0, 1, 7
_PARAM_RATE, _PARAM_PITCH = 1, 3
_EE_OK = 0
_BUFFER_MS = 500  # audio per callback: fewer Python calls than the default 60 ms


class _EventId(ctypes.Union):
    _fields_ = (
        ("number", ctypes.c_int),
        ("name", ctypes.c_char_p),
        ("string", ctypes.c_char * 8),
    )


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


class _VoiceStruct(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass(frozen=True)
class Voice:
    """A voice eSpeak offers: ``language`` is what to pass as ``voice=``."""

    language: str
    name: str
    identifier: str
    languages: tuple[str, ...]
    gender: str


class Collector:
    """Audio buffers and events of the synthesis in progress."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.chunks: list[bytes] = []
        self.n_samples = 0
        self.words: list[tuple[int, int, int]] = []  # (sample, text index, length)
        self.phonemes: list[tuple[int, str, int]] = []  # (sample, IPA name, word number)

    def receive(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        if n > 0 and wav:
            self.chunks.append(ctypes.string_at(wav, n * 2))
            self.n_samples += n
        i = 0
        while True:
            event = events[i]
            kind = event.type
            if kind == _EVENT_LIST_TERMINATED:
                break
            if kind == _EVENT_PHONEME:
                name = event.id.string.decode("utf-8", "ignore")
                self.phonemes.append((self._sample(event), name, len(self.words) - 1))
            elif kind == _EVENT_WORD:
                self.words.append(
                    (self._sample(event), event.text_position - 1, max(event.length, 0))
                )
            i += 1
        return 0

    def _sample(self, event: _Event) -> int:
        """The event's sample; the ms position where the internal sample count disagrees."""
        from_ms = event.audio_position * self.sample_rate // 1000
        if abs(event.sample - from_ms) <= self.sample_rate // 250:
            return event.sample
        return from_ms


class Espeak:
    """The loaded library. Use only while holding ``LOCK``."""

    def __init__(self) -> None:
        import espeakng_loader

        try:
            lib = ctypes.CDLL(espeakng_loader.get_library_path())
            data = espeakng_loader.get_data_path()
        except (OSError, RuntimeError) as exc:
            raise HeadcastError(f"the built-in voice (eSpeak NG) cannot be loaded: {exc}") from None
        lib.espeak_Initialize.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int)
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = (_Callback,)
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_Synth.argtypes = (
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
        )  # fmt: skip
        lib.espeak_Synth.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceStruct))
        options = _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA | _INITIALIZE_DONT_EXIT
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, _BUFFER_MS, data.encode(), options)
        if rate <= 0:
            raise HeadcastError(f"the built-in voice (eSpeak NG) failed to start with data {data}")
        self.lib = lib
        self.data_path = Path(data)
        self.sample_rate = rate
        self.collector: Collector | None = None
        self.callback = _Callback(self._receive)  # kept alive as long as the library
        lib.espeak_SetSynthCallback(self.callback)
        self.voice_key: str | None = None

    def _receive(
        self, wav: ctypes._Pointer[ctypes.c_short], n: int, events: ctypes._Pointer[_Event]
    ) -> int:
        collector = self.collector
        return 0 if collector is None else collector.receive(wav, n, events)

    def set_voice(self, key: str) -> None:
        if key != self.voice_key:
            if self.lib.espeak_SetVoiceByName(key.encode()) != _EE_OK:
                raise InputError(f"the built-in voice could not load voice '{key}'")
            self.voice_key = key

    def synth(self, text: str, rate_wpm: int, pitch: int) -> Collector:
        self.lib.espeak_SetParameter(_PARAM_RATE, rate_wpm, 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, pitch, 0)
        data = text.encode("utf-8")
        collector = Collector(self.sample_rate)
        self.collector = collector
        try:
            status = self.lib.espeak_Synth(
                data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES | _ENDPAUSE,
                None, None,
            )  # fmt: skip
        finally:
            self.collector = None
        if status != _EE_OK:
            raise HeadcastError(f"the built-in voice failed (eSpeak error {status})")
        return collector

    def voices(self) -> list[Voice]:
        array = self.lib.espeak_ListVoices(None)
        out: list[Voice] = []
        i = 0
        while array[i]:
            v = array[i].contents
            languages = _parse_languages(v.languages)
            name = (v.name or b"").decode("utf-8", "replace").strip()
            identifier = (v.identifier or b"").decode("utf-8", "replace")
            if languages:
                out.append(
                    Voice(
                        language=languages[0],
                        name=name,
                        identifier=identifier,
                        languages=tuple(languages),
                        gender={1: "male", 2: "female"}.get(v.gender, ""),
                    )
                )
            i += 1
        return out


def _parse_languages(pointer: int | None) -> list[str]:
    """eSpeak's language list: (priority byte, zero-terminated name)*, then a zero byte."""
    if not pointer:
        return []
    ranked: list[tuple[int, int, str]] = []
    while True:
        priority = ctypes.string_at(pointer, 1)[0]
        if priority == 0:
            break
        name = ctypes.string_at(pointer + 1)
        ranked.append((priority, len(ranked), name.decode("utf-8", "replace")))
        pointer += 2 + len(name)
    return [name for _, _, name in sorted(ranked)]


LOCK = threading.Lock()
_ENGINE: Espeak | None = None


def engine() -> Espeak:
    """The library, started on first use. Call with ``LOCK`` held."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Espeak()
    return _ENGINE
