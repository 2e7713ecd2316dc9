"""Whether each rendering engine can be used now: a local one always; a remote one when its
configured server says it is ready.

A remote server is asked ``GET /readyz`` first (headcast's own serve answers 503 until it
takes work; an OmniRT server answers ``{"ok": false}`` until its engine is ready): "ok" only
when it is ready, "not ready: …" with its answer otherwise. Where no readiness answer comes
(no such route, not HTTP, no answer in time) a TCP connect decides. Each answer is kept a few
seconds per server, so listing engines cannot be turned into a flood of requests to the
remote.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from headcast.errors import InputError
from headcast.render import get_engine
from headcast.render.capabilities import EngineCapabilities, EngineKind
from headcast.render.remote import RemoteEndpoint

PROBE_TIMEOUT_S = 1.0
PROBE_CACHE_S = 5.0
OK = "ok"
NOT_CONFIGURED = "not configured"
READINESS_PATH = "/readyz"
# The engines' own routes: the readiness route sits beside them (under a proxy's prefix too).
ENGINE_ROUTES = ("/v1/avatar/realtime", "/v1/generate")
_HTTP_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def readiness_url(engine_url: str) -> str:
    """The readiness route of the server at ``engine_url``, over HTTP(S)."""
    parts = urlsplit(engine_url)
    path = parts.path.rstrip("/")
    prefix = next((path[: -len(r)] for r in ENGINE_ROUTES if path.endswith(r)), "")
    scheme = _HTTP_SCHEMES.get(parts.scheme, "http")
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((scheme, netloc, prefix + READINESS_PATH, "", ""))


class ServerProbes:
    """Readiness probes of remote servers, each answer remembered for ``cache_s`` seconds."""

    def __init__(self, timeout_s: float = PROBE_TIMEOUT_S, cache_s: float = PROBE_CACHE_S):
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._answers: dict[str, tuple[float, str]] = {}
        # One probe at a time: callers arriving meanwhile wait for it and read its answer.
        self._lock = threading.Lock()

    def health(self, url: str, api_key: str = "") -> str:
        """ "ok", "not ready: <why>" or "unreachable: <why>" for the server at ``url``."""
        ready_url = readiness_url(url)
        with self._lock:
            cached = self._answers.get(ready_url)
            if cached is not None and time.monotonic() - cached[0] < self.cache_s:
                return cached[1]
            answer = self._ask(ready_url, api_key)
            if answer is None:
                parts = urlsplit(ready_url)
                answer = self._connect(
                    parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]
                )
            self._answers[ready_url] = (time.monotonic(), answer)
            return answer

    def _ask(self, ready_url: str, api_key: str) -> str | None:
        """The readiness route's verdict, or None where it gives none."""
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = httpx.get(ready_url, headers=headers, timeout=self.timeout_s)
        except httpx.HTTPError:
            return None  # refused, not HTTP, or no answer in time: the connect tells
        if response.status_code in (404, 405, 401, 403):  # no such route, or not for us
            return None
        if response.status_code >= 500:
            return f"not ready: {ready_url} answered HTTP {response.status_code}"
        if response.status_code != 200:
            return None
        if _says_not_ready(_json_or_none(response)):
            return f"not ready: {ready_url} says the engine is not ready"
        return OK

    def _connect(self, host: str, port: int) -> str:
        try:
            with socket.create_connection((host, port), timeout=self.timeout_s):
                return OK
        except TimeoutError:
            return f"unreachable: no answer from {host}:{port} in {self.timeout_s:g} s"
        except OSError as e:
            why = (e.strerror or str(e) or type(e).__name__).lower()
            return f"unreachable: {host}:{port}: {why}"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _says_not_ready(body: Any) -> bool:
    """Whether a readiness answer of 200 still says no: headcast's ``ready``, OmniRT's ``ok``."""
    if not isinstance(body, dict):
        return False
    return any(body.get(key) is False for key in ("ready", "ok"))


def engine_health(name: str, capabilities: EngineCapabilities, probes: ServerProbes) -> str:
    """ "ok" for a local engine; for a remote one its server's probe, or "not configured"
    when no server is named for it."""
    if capabilities.kind is not EngineKind.REMOTE:
        return OK
    try:
        endpoint = getattr(get_engine(name), "endpoint", None)
        if not isinstance(endpoint, RemoteEndpoint):
            endpoint = RemoteEndpoint.from_settings()
    except InputError:  # no URL, or one that names no server
        return NOT_CONFIGURED
    except Exception as e:  # a plug-in's own failure to make its engine, whatever it is
        return f"failed: {e}"
    return probes.health(endpoint.url, endpoint.api_key)
