"""Whether each rendering engine can be used now: a local one always; a remote one when its
configured server accepts a connection.

A probe is one TCP connect with a short timeout, and its answer is kept a few seconds per
server, so listing engines cannot be turned into a flood of connections to the remote.
"""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import urlsplit

from headcast.errors import InputError
from headcast.render import get_engine
from headcast.render.capabilities import EngineCapabilities, EngineKind
from headcast.render.remote import RemoteEndpoint

PROBE_TIMEOUT_S = 1.0
PROBE_CACHE_S = 5.0
OK = "ok"
NOT_CONFIGURED = "not configured"
_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


class ServerProbes:
    """Connect probes of remote servers, each answer remembered for ``cache_s`` seconds."""

    def __init__(self, timeout_s: float = PROBE_TIMEOUT_S, cache_s: float = PROBE_CACHE_S):
        self.timeout_s = timeout_s
        self.cache_s = cache_s
        self._answers: dict[tuple[str, int], tuple[float, str]] = {}
        # One probe at a time: callers arriving meanwhile wait for it and read its answer.
        self._lock = threading.Lock()

    def health(self, url: str) -> str:
        """ "ok", or "unreachable: <why>" for the server at ``url``."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
        with self._lock:
            now = time.monotonic()
            cached = self._answers.get((host, port))
            if cached is not None and now - cached[0] < self.cache_s:
                return cached[1]
            answer = self._connect(host, port)
            self._answers[(host, port)] = (time.monotonic(), answer)
            return answer

    def _connect(self, host: str, port: int) -> str:
        try:
            with socket.create_connection((host, port), timeout=self.timeout_s):
                return OK
        except TimeoutError:
            return f"unreachable: no answer from {host}:{port} in {self.timeout_s:g} s"
        except OSError as e:
            why = (e.strerror or str(e) or type(e).__name__).lower()
            return f"unreachable: {host}:{port}: {why}"


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
    return probes.health(endpoint.url)
