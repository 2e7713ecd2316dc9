"""Speech from a TTS server: an OpenAI-style ``/v1/audio/speech`` endpoint or any HTTP endpoint.

The server returns audio (WAV, MP3, OGG, FLAC... judged by content, decoded with
``load_audio``); the phones come from forced alignment of that audio with the text
(``align_phones``, English model). Requests time out, and are retried with exponential
backoff on server errors (5xx, 429) and broken connections, never on other 4xx answers.
Every failure is a ``SpeechServerError`` saying what the server did.

The key, model, timeout and retries not given are ``headcast.settings``' (``HEADCAST_TTS_*``).
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import TypedDict, Unpack

import numpy as np

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio
from headcast.audio.decode import load_audio, resample
from headcast.errors import HeadcastError, InputError
from headcast.phones.align import align_phones
from headcast.phones.track import SILENCE, PhoneTrack
from headcast.settings import TTS_API_KEY as API_KEY_ENV
from headcast.settings import tts_api_key, tts_model, tts_retries, tts_timeout_s
from headcast.speech.spoken import Speech, WordTiming, track_from_boundaries

log = logging.getLogger(__name__)

DEFAULT_BACKOFF_S = 0.5
DEFAULT_OPENAI_VOICE = "alloy"
OUTPUT_SAMPLE_RATE_HZ = 24_000  # what most neural TTS servers produce
MAX_RESPONSE_BYTES = 200 * 1024 * 1024
MAX_SPEECH_S = 600.0
NORMAL_RATE_WPM = 175.0  # the rate that is OpenAI's speed 1.0
_READ_CHUNK = 64 * 1024
_ALIGN_NOISE_RMS = 3e-4
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/problem")


class SpeechServerError(HeadcastError):
    """The TTS server is unreachable, too slow, failing, or answered with something unusable."""


class RequestOptions(TypedDict, total=False):
    """How ``RemoteBackend`` talks to any server; both kinds of backend take these too."""

    timeout_s: float | None
    retries: int | None
    backoff_s: float
    api_key: str | None
    headers: Mapping[str, str] | None


class RemoteBackend:
    """What both kinds of server share: the HTTP request with retries, decoding, alignment."""

    name = "remote"
    default_voice = ""
    max_chunk_chars = 1000  # sentences are grouped up to this size: fewer round trips

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float | None = None,
        retries: int | None = None,
        backoff_s: float = DEFAULT_BACKOFF_S,
        api_key: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InputError(f"TTS server URL '{url}' must be an http:// or https:// URL")
        self.url = url
        self.timeout_s = timeout_s if timeout_s is not None else tts_timeout_s()
        self.retries = retries if retries is not None else tts_retries()
        if self.timeout_s <= 0 or self.retries < 0:
            raise InputError("the TTS timeout must be positive and the retries not negative")
        self.backoff_s = backoff_s
        self.api_key = api_key if api_key is not None else tts_api_key()
        self.headers = dict(headers or {})

    def check_voice(self, voice: str) -> None:
        """The server knows its voices; a wrong one comes back as its 4xx answer."""

    def check_options(self, rate_wpm: float | None, pitch: float | None) -> None:
        if rate_wpm is not None and rate_wpm <= 0:
            raise InputError(f"rate must be positive, got {rate_wpm:g}")

    def synthesize(
        self, text: str, voice: str, *, rate_wpm: float | None = None, pitch: float | None = None
    ) -> Speech:
        method, url, body, headers = self.request(text, voice, rate_wpm, pitch)
        data, content_type = self._fetch(method, url, body, headers)
        audio = self._decode(data, content_type)
        track = _align(audio, text)
        return Speech(audio=audio, phones=track, words=estimate_words(text, track))

    def request(
        self, text: str, voice: str, rate_wpm: float | None, pitch: float | None
    ) -> tuple[str, str, bytes | None, dict[str, str]]:
        raise NotImplementedError

    def _base_headers(self) -> dict[str, str]:
        headers = {"Accept": "audio/*, */*;q=0.5", "User-Agent": "headcast"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        headers.update(self.headers)
        return headers

    def _fetch(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[bytes, str]:
        where = _redact(url)
        opener = _opener(url)
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_s * 2 ** (attempt - 1)
                log.warning(
                    "TTS server %s: %s; retrying in %.1f s (%d/%d)",
                    where, last_problem, delay, attempt, self.retries,
                )  # fmt: skip
                time.sleep(delay)
            request = urllib.request.Request(url, data=body, headers=headers, method=method)
            try:
                with opener.open(request, timeout=self.timeout_s) as response:
                    content_type = response.headers.get("Content-Type", "")
                    return self._read(response, where), content_type
            except urllib.error.HTTPError as exc:
                detail = _excerpt(exc)
                if exc.code >= 500 or exc.code == 429:
                    last_problem = f"HTTP {exc.code} {exc.reason}{detail}"
                    continue
                raise SpeechServerError(
                    f"TTS server {where} refused the request: HTTP {exc.code} {exc.reason}{detail}"
                ) from None
            except (TimeoutError, urllib.error.URLError, OSError, http.client.HTTPException) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, TimeoutError) or isinstance(exc, TimeoutError):
                    raise SpeechServerError(
                        f"TTS server {where} did not answer within {self.timeout_s:g} s"
                    ) from None
                last_problem = f"cannot connect ({_reason(reason)})"
                continue
        tries = f"{self.retries + 1} tries" if self.retries else "1 try"
        if last_problem.startswith("cannot connect"):
            raise SpeechServerError(
                f"TTS server {where} is not reachable: {last_problem[len('cannot connect ') :]} "
                f"after {tries}; is it running?"
            )
        raise SpeechServerError(f"TTS server {where} failed: {last_problem} after {tries}")

    def _read(self, response: http.client.HTTPResponse, where: str) -> bytes:
        """The body, within the timeout as a whole (a trickling server cannot stall us)."""
        deadline = time.monotonic() + self.timeout_s
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read(_READ_CHUNK)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise SpeechServerError(
                    f"TTS server {where} sent more than {MAX_RESPONSE_BYTES >> 20} MB"
                )
            if time.monotonic() > deadline:
                raise TimeoutError

    def _decode(self, data: bytes, content_type: str) -> Audio:
        where = _redact(self.url)
        kind = content_type.split(";")[0].strip().lower()
        if not data:
            raise SpeechServerError(f"TTS server {where} answered with no data instead of audio")
        if kind.startswith(_TEXT_TYPES):
            raise SpeechServerError(
                f"TTS server {where} answered with {kind}, not audio: {_snippet(data)}"
            )
        try:
            return load_audio(data, sample_rate=OUTPUT_SAMPLE_RATE_HZ, max_duration_s=MAX_SPEECH_S)
        except InputError as exc:
            raise SpeechServerError(
                f"TTS server {where} answered with something that is not usable audio "
                f"({kind or 'no content type'}; {exc}): {_snippet(data)}"
            ) from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({_redact(self.url)!r})"


class OpenAISpeechBackend(RemoteBackend):
    """An OpenAI-style server: ``POST {base}/v1/audio/speech`` with JSON
    ``{model, input, voice, response_format}``; ``rate_wpm`` becomes ``speed``."""

    name = "openai"
    default_voice = DEFAULT_OPENAI_VOICE

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        response_format: str = "wav",
        **options: Unpack[RequestOptions],
    ) -> None:
        super().__init__(openai_endpoint(base_url), **options)
        self.model = model or tts_model()
        self.response_format = response_format

    def request(
        self, text: str, voice: str, rate_wpm: float | None, pitch: float | None
    ) -> tuple[str, str, bytes | None, dict[str, str]]:
        payload: dict[str, object] = {
            "model": self.model,
            "input": text,
            "voice": voice or self.default_voice,
            "response_format": self.response_format,
        }
        if rate_wpm is not None:
            payload["speed"] = round(min(max(rate_wpm / NORMAL_RATE_WPM, 0.25), 4.0), 3)
        if pitch is not None:
            log.warning("OpenAI-style TTS servers have no pitch setting: pitch ignored")
        headers = self._base_headers() | {"Content-Type": "application/json"}
        return "POST", self.url, json.dumps(payload).encode(), headers


def openai_endpoint(base_url: str) -> str:
    """``http://host:8000``, ``.../v1`` or ``.../v1/audio/speech`` → the speech endpoint."""
    parts = urllib.parse.urlsplit(base_url.strip())
    path = parts.path.rstrip("/")
    if not path.endswith("/audio/speech"):
        path = (path if path.endswith("/v1") else path + "/v1") + "/audio/speech"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class HttpSpeechBackend(RemoteBackend):
    """Any HTTP endpoint that turns text into audio.

    ``url_template`` may hold ``{text}``, ``{voice}``, ``{rate}``, ``{pitch}`` (URL-encoded
    into it). ``body`` is ``None`` (no body: GET), ``"json"`` or ``"form"`` (POST the
    ``fields``, whose values are templates the same way, e.g. ``{"text": "{text}"}``).
    """

    name = "http"

    def __init__(
        self,
        url_template: str,
        *,
        body: str | None = None,
        fields: Mapping[str, str] | None = None,
        method: str | None = None,
        default_voice: str = "",
        **options: Unpack[RequestOptions],
    ) -> None:
        if body not in (None, "json", "form"):
            raise InputError(f"TTS request body must be json or form, got '{body}'")
        sample = url_template
        for key in ("text", "voice", "rate", "pitch"):
            sample = sample.replace("{" + key + "}", "x")
        super().__init__(sample, **options)
        self.url = url_template
        self.body = body
        self.fields = dict(fields or {"text": "{text}", "voice": "{voice}"})
        self.method = (method or ("GET" if body is None else "POST")).upper()
        self.default_voice = default_voice

    def request(
        self, text: str, voice: str, rate_wpm: float | None, pitch: float | None
    ) -> tuple[str, str, bytes | None, dict[str, str]]:
        values = {
            "text": text,
            "voice": voice or self.default_voice,
            "rate": "" if rate_wpm is None else f"{rate_wpm:g}",
            "pitch": "" if pitch is None else f"{pitch:g}",
        }
        url = self.url
        for key, value in values.items():
            url = url.replace("{" + key + "}", urllib.parse.quote(value, safe=""))
        headers = self._base_headers()
        data: bytes | None = None
        if self.body is not None:
            fields = {}
            for name, template in self.fields.items():
                placeholder = template.strip("{}") if template.startswith("{") else None
                if placeholder in values and template == "{" + placeholder + "}":
                    if values[placeholder] == "":
                        continue  # an unset voice/rate/pitch: leave it to the server
                    fields[name] = values[placeholder]
                    continue
                for key, value in values.items():
                    template = template.replace("{" + key + "}", value)
                fields[name] = template
            if self.body == "json":
                data = json.dumps(fields).encode()
                headers["Content-Type"] = "application/json"
            else:
                data = urllib.parse.urlencode(fields).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        return self.method, url, data, headers


def _align(audio: Audio, text: str) -> PhoneTrack:
    """Phones of the server's audio by forced alignment, on the audio's own timeline.

    The aligner's copy gets a faint fixed noise floor (-70 dBFS): synthetic voices leave runs
    of exact digital zeros (stop closures), which the recognizer front end would cut out.
    """
    samples = resample(audio.samples, audio.sample_rate, ANALYSIS_SAMPLE_RATE_HZ)
    noise = np.random.default_rng(0).normal(0.0, _ALIGN_NOISE_RMS, len(samples))
    analysis = Audio((samples + noise).astype(np.float32), ANALYSIS_SAMPLE_RATE_HZ)
    aligned = align_phones(analysis, text)
    rate = audio.sample_rate
    spans = [(p.label, round(p.start_s * rate), round(p.end_s * rate)) for p in aligned.phones]
    return track_from_boundaries(spans, len(audio.samples), rate, aligned.source)


def estimate_words(text: str, track: PhoneTrack) -> list[WordTiming]:
    """Word times spread over the spoken (non-silent) time in proportion to word length.

    An estimate for servers that report no word timing: boundaries land on phone boundaries,
    pauses fall between words, and the words keep their written order.
    """
    words = [w.strip(".,;:!?\"'()[]{}«»“”‘’…") for w in text.split()]
    words = [w for w in words if w]
    spoken = [p for p in track.phones if p.label != SILENCE]
    if not words or not spoken:
        return []
    durations = np.array([p.duration_s for p in spoken])
    ends = np.cumsum(durations)
    total = float(ends[-1])
    weights = np.array([max(len(w), 1) for w in words], dtype=np.float64)
    cuts = np.concatenate([[0.0], np.cumsum(weights) / weights.sum() * total])
    out: list[WordTiming] = []
    first = 0
    for i, word in enumerate(words):
        last = int(np.searchsorted(ends, cuts[i + 1] - 1e-9))
        last = min(max(last, first), len(spoken) - 1)
        out.append(WordTiming(word, spoken[first].start_s, spoken[last].end_s))
        first = min(last + 1, len(spoken) - 1)
    return out


def _opener(url: str) -> urllib.request.OpenerDirector:
    """Loopback servers are reached directly, whatever proxy the environment names."""
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _redact(url: str) -> str:
    """The URL as shown to users: no credentials, no query (it may hold the text or a key)."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _excerpt(error: urllib.error.HTTPError) -> str:
    try:
        data = error.read(400)
    except Exception:  # a broken error body must not hide the status
        return ""
    snippet = _snippet(data)
    return f": {snippet}" if snippet else ""


def _snippet(data: bytes, limit: int = 160) -> str:
    text = data[: limit * 2].decode("utf-8", "replace")
    text = " ".join(text.split())
    printable = sum(ch.isprintable() for ch in text)
    if not text or printable < 0.9 * len(text):
        return f"{len(data)} bytes of binary data"
    return text[:limit] + ("..." if len(text) > limit else "")


def _reason(reason: object) -> str:
    text = getattr(reason, "strerror", None) or str(reason)
    return str(text).strip().rstrip(".").lower() or type(reason).__name__


__all__ = [
    "API_KEY_ENV",
    "HttpSpeechBackend",
    "OpenAISpeechBackend",
    "RemoteBackend",
    "SpeechServerError",
    "estimate_words",
    "openai_endpoint",
]
