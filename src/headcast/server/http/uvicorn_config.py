"""The one uvicorn configuration of the service, for ``headcast serve`` and the test servers."""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from headcast.server.config import ServerConfig
from headcast.server.http.request_head import bounded_head_protocol

# An idle keep-alive connection is closed after this; a new head then has header_timeout_s.
KEEP_ALIVE_TIMEOUT_S = 5
# A WebSocket peer that stops answering pings is dropped after about twice this.
WS_PING_INTERVAL_S = 20.0


def uvicorn_config(
    app: ASGIApp,
    config: ServerConfig,
    *,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
) -> uvicorn.Config:
    """uvicorn serving ``app`` on ``config``'s host and port (or ``host`` and ``port``)."""
    return uvicorn.Config(
        app,
        host=config.host if host is None else host,
        port=config.port if port is None else port,
        log_level=log_level,
        http=bounded_head_protocol(config.header_timeout_s),
        ws="websockets-sansio",
        # Live streams send JPEG / H.264 that deflate cannot shrink: compressing every frame
        # message would only cost CPU.
        ws_per_message_deflate=False,
        ws_ping_interval=WS_PING_INTERVAL_S,
        ws_ping_timeout=WS_PING_INTERVAL_S,
        timeout_keep_alive=KEEP_ALIVE_TIMEOUT_S,
        proxy_headers=True,
        forwarded_allow_ips=list(config.trusted_proxies),
        server_header=False,
    )
