"""Every ``HEADCAST_*`` environment variable the library and the command line read.

Each is read when asked for, not at import, so a process (or a test) that sets one sees it
at once. A value that cannot be used is a ``SettingError`` naming the variable. The service's
own settings are ``headcast.server.ServerConfig``'s. README.md's table of settings lists
these with their defaults and meaning.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from headcast.errors import InputError
from headcast.limits import DEFAULT_MAX_AUDIO_S

MAX_AUDIO_SECONDS = "HEADCAST_MAX_AUDIO_SECONDS"
CACHE_DIR = "HEADCAST_CACHE_DIR"
MAX_TEXT_CHARS = "HEADCAST_MAX_TEXT_CHARS"
TTS = "HEADCAST_TTS"
TTS_API_KEY = "HEADCAST_TTS_API_KEY"
TTS_MODEL = "HEADCAST_TTS_MODEL"
TTS_TIMEOUT = "HEADCAST_TTS_TIMEOUT"
TTS_RETRIES = "HEADCAST_TTS_RETRIES"
MAX_ENROL_S = "HEADCAST_MAX_ENROL_S"
ENGINE = "HEADCAST_ENGINE"
ENGINE_URL = "HEADCAST_ENGINE_URL"
ENGINE_API_KEY = "HEADCAST_ENGINE_API_KEY"
ENGINE_MODEL = "HEADCAST_ENGINE_MODEL"
ENGINE_TIMEOUT = "HEADCAST_ENGINE_TIMEOUT"
ENGINE_FALLBACK = "HEADCAST_ENGINE_FALLBACK"

DEFAULT_MAX_TEXT_CHARS = 5000
DEFAULT_TTS = "builtin"
DEFAULT_TTS_MODEL = "tts-1"
DEFAULT_TTS_TIMEOUT_S = 60.0
DEFAULT_TTS_RETRIES = 2
DEFAULT_MAX_ENROL_S = 600.0
DEFAULT_ENGINE_MODEL = "soulx-flashhead-1.3b"
DEFAULT_ENGINE_TIMEOUT_S = 30.0


class SettingError(InputError):
    """An environment variable holds a value that cannot be used."""


def _raw(name: str) -> str:
    """The variable's value, stripped; "" when it is unset or blank."""
    return os.environ.get(name, "").strip()


def _positive_number(name: str, default: float) -> float:
    value = _raw(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingError(f"${name} must be a number, got '{value}'") from None
    if not (math.isfinite(number) and number > 0):
        raise SettingError(f"${name} must be a positive number, got '{value}'")
    return number


def _whole_number(name: str, default: int, *, minimum: int) -> int:
    value = _raw(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingError(f"${name} must be a whole number, got '{value}'") from None
    if number < minimum:
        raise SettingError(f"${name} must be at least {minimum}, got {number}")
    return number


def max_audio_s() -> float:
    """Longest speech the command line accepts unless told otherwise, in seconds."""
    return _positive_number(MAX_AUDIO_SECONDS, DEFAULT_MAX_AUDIO_S)


def max_enrol_s() -> float:
    """Longest video ``headcast enrol`` accepts unless told otherwise, in seconds."""
    return _positive_number(MAX_ENROL_S, DEFAULT_MAX_ENROL_S)


def cache_dir() -> Path:
    """The folder of headcast's caches (prepared avatars live in its ``avatars``, enrolled
    ones in its ``enrolled``)."""
    base = _raw(CACHE_DIR)
    if base:
        return Path(base).expanduser()
    xdg = _raw("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "headcast"


def max_text_chars() -> int:
    """Longest text spoken at once, in characters."""
    return _whole_number(MAX_TEXT_CHARS, DEFAULT_MAX_TEXT_CHARS, minimum=1)


def tts_backend() -> str:
    """The command line's speech backend: ``builtin`` or a TTS server URL."""
    return _raw(TTS) or DEFAULT_TTS


def tts_api_key() -> str:
    """The TTS server's bearer token; "" for none."""
    return _raw(TTS_API_KEY)


def tts_model() -> str:
    """The model asked of an OpenAI-style TTS server."""
    return _raw(TTS_MODEL) or DEFAULT_TTS_MODEL


def tts_timeout_s() -> float:
    """How long to wait for each answer of a TTS server, in seconds."""
    return _positive_number(TTS_TIMEOUT, DEFAULT_TTS_TIMEOUT_S)


def tts_retries() -> int:
    """How often a failed TTS request is tried again."""
    return _whole_number(TTS_RETRIES, DEFAULT_TTS_RETRIES, minimum=0)


def engine() -> str:
    """The engine named for every render when none is asked for; "" leaves the choice to the
    avatar (warp for a photo, enrolled for an enrolled avatar)."""
    return _raw(ENGINE)


def engine_url() -> str:
    """Where a remote engine's server listens (``ws://…`` or ``http://…``); "" for none."""
    return _raw(ENGINE_URL)


def engine_api_key() -> str:
    """The key a remote engine's server is sent; "" for none."""
    return _raw(ENGINE_API_KEY)


def engine_model() -> str:
    """The model a remote engine's server is asked to run."""
    return _raw(ENGINE_MODEL) or DEFAULT_ENGINE_MODEL


def engine_fallback() -> str:
    """The engine that renders instead when a remote engine's server fails; "" (the default)
    for none: the failure is then the render's."""
    return _raw(ENGINE_FALLBACK)


def engine_timeout_s() -> float:
    """How long a remote engine waits for its server to answer, in seconds."""
    return _positive_number(ENGINE_TIMEOUT, DEFAULT_ENGINE_TIMEOUT_S)
