"""``headcast serve``: run the HTTP/WebSocket/WebRTC service."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from headcast.errors import HeadcastError, InputError

# What the `serve` extra installs, by the names it is imported under.
SERVE_EXTRA_MODULES = (
    "fastapi",
    "uvicorn",
    "python_multipart",
    "swagger_ui_bundle",
    "aiortc",
    "prometheus_client",
    "redis",
)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the service (REST API, live streams, web page)",
        description=(
            "Run the headcast service. Every option can also be set as $HEADCAST_<OPTION> "
            "(e.g. HEADCAST_PORT, HEADCAST_API_KEYS=key1,key2); flags win over the environment."
        ),
    )
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8000)")
    p.add_argument("--data-dir", type=Path, default=None, help="jobs, avatars and videos")
    p.add_argument("--workers", type=int, default=None, help="render jobs run at once")
    p.add_argument(
        "--session-processes",
        type=int,
        default=None,
        help="processes the live sessions share (default 0: one per live session)",
    )
    p.add_argument(
        "--allow-anonymous",
        action="store_const",
        const=True,
        default=None,
        help="serve without API keys (only on a trusted network)",
    )
    p.add_argument("--redis-url", default=None, help="share the job queue through Redis")
    p.set_defaults(run=run)


def missing_serve_modules() -> list[str]:
    """The modules of the ``serve`` extra that cannot be imported here."""
    missing = []
    for name in SERVE_EXTRA_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ImportError:
            found = False
        if not found:
            missing.append(name)
    return missing


def run(args: argparse.Namespace) -> int:
    missing = missing_serve_modules()
    if missing:
        raise HeadcastError(
            f"headcast serve needs the serve extra ({', '.join(missing)} missing): "
            "pip install 'headcast[serve]'"
        )
    import uvicorn
    from uvicorn.main import STARTUP_FAILURE

    from headcast import settings
    from headcast.render.registry import engine_capabilities
    from headcast.server import ServerConfig, create_app
    from headcast.server.http.uvicorn_config import uvicorn_config

    # An engine the settings name that does not exist is told now, not at the first render.
    for variable, named in (
        (settings.ENGINE, settings.engine()),
        (settings.ENGINE_FALLBACK, settings.engine_fallback()),
    ):
        if named:
            try:
                engine_capabilities(named)
            except InputError as exc:
                raise InputError(f"${variable}: {exc}") from None
    config = ServerConfig.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        workers=args.workers,
        session_processes=args.session_processes,
        allow_anonymous=args.allow_anonymous,
        redis_url=args.redis_url,
    )
    server = uvicorn.Server(uvicorn_config(create_app(config), config))
    server.run()
    # The app failed to start, e.g. on a data directory another server holds.
    return 0 if server.started else STARTUP_FAILURE
