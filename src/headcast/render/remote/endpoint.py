"""Where a remote engine's server is and how to talk to it: one value, from the settings or
from the caller (a command line's ``--engine-url``, a service's configuration)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from headcast import settings
from headcast.errors import InputError

SCHEMES = ("ws", "wss", "http", "https")


@dataclass(frozen=True)
class RemoteEndpoint:
    """A remote engine's server: its URL, the key it expects, the model to run, the engine's
    own configuration keys (passed through as they are) and how long to wait for answers."""

    url: str
    api_key: str = ""
    model: str = settings.DEFAULT_ENGINE_MODEL
    config: Mapping[str, Any] = field(default_factory=dict)
    timeout_s: float = settings.DEFAULT_ENGINE_TIMEOUT_S

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise InputError(
                f"engine URL must be ws://, wss://, http:// or https:// with a host, "
                f"got '{self.url}'"
            )
        if not self.timeout_s > 0:
            raise InputError(f"engine timeout must be positive, got {self.timeout_s}")

    @classmethod
    def from_settings(cls, **given: Any) -> RemoteEndpoint:
        """The endpoint the ``HEADCAST_ENGINE_*`` variables name, with ``given`` fields in
        their place; an InputError names what is missing or wrong."""
        url = given.pop("url", None) or settings.engine_url()
        if not url:
            raise InputError(
                f"a remote engine needs its server's URL: --engine-url or ${settings.ENGINE_URL}"
            )
        return cls(
            url=url,
            api_key=given.pop("api_key", None) or settings.engine_api_key(),
            model=given.pop("model", None) or settings.engine_model(),
            timeout_s=given.pop("timeout_s", None) or settings.engine_timeout_s(),
            **given,
        )

    @property
    def server(self) -> str:
        """The URL without credentials or query, to name the server in messages and logs."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
