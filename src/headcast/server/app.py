"""The FastAPI application: configuration, shared state, error handling and the routes.

Each route module exposes ``router`` and may define ``async startup(app)`` /
``async shutdown(app)`` for what it owns (job workers, live sessions).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from headcast import __version__
from headcast.server.config import ServerConfig
from headcast.server.http import api_docs
from headcast.server.http.admission import Admission, route_rules
from headcast.server.http.body_limit import RequestBodyLimit
from headcast.server.http.errors import UnexpectedErrors, install_error_handlers
from headcast.server.http.log_redaction import install_log_redaction
from headcast.server.http.metrics import install_request_metrics
from headcast.server.http.security import AuthFailureThrottle, NoSniff, RateLimiter
from headcast.server.jobs.data_dir_lock import lock_data_dir
from headcast.server.live.sessions import LiveSessions

# Order matters only for the OpenAPI listing. One line, so that adding a module is a one-line edit.
ROUTE_MODULES: tuple[str, ...] = ("routes.health", "http.metrics", "routes.lipsync", "routes.pick_reference", "routes.generate", "routes.index_page", "routes.animate", "routes.avatars", "routes.jobs", "live.webrtc", "live.routes", "routes.pages", "live.stream_ws", "live.omnirt_ws")  # fmt: skip


def _route_modules() -> list[ModuleType]:
    return [importlib.import_module(f"headcast.server.{name}") for name in ROUTE_MODULES]


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The service, configured from ``config`` (default: the environment)."""
    config = config or ServerConfig.from_env()
    modules = _route_modules()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()  # after the server has set up its loggers
        # Before any module reads or cleans the directory: a second server stops here.
        app.state.data_dir_lock = None if config.redis_url else lock_data_dir(config.data_dir)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        started = []
        try:
            for module in modules:
                if hasattr(module, "startup"):
                    await module.startup(app)
                started.append(module)
            app.state.ready = True
            yield
        finally:
            app.state.ready = False
            app.state.live_sessions.close_all()
            for module in reversed(started):
                if hasattr(module, "shutdown"):
                    await module.shutdown(app)
            if app.state.data_dir_lock is not None:
                app.state.data_dir_lock.close()

    app = FastAPI(
        title="headcast",
        version=__version__,
        description="A portrait photo plus speech becomes a lip-synced talking-head video.",
        lifespan=lifespan,
        docs_url=None,  # api_docs serves Swagger UI from the package, not from a CDN
        redoc_url=None,
    )
    app.state.config = config
    app.state.ready = False
    app.state.rate_limiter = RateLimiter(config.rate_limit_per_min)
    app.state.auth_failures = AuthFailureThrottle(config.auth_failures_per_min)
    app.state.live_sessions = LiveSessions(config)
    # Innermost first. A request meets: metrics, NoSniff, CORS, UnexpectedErrors, Admission
    # (key and rate, nothing read yet), then the body limits, then the routes.
    app.add_middleware(
        RequestBodyLimit,
        max_bytes=config.max_request_bytes,
        read_timeout_s=config.body_read_timeout_s,
    )
    app.add_middleware(Admission)
    # Inside CORS and NoSniff, so a 500 carries their headers like every other answer.
    app.add_middleware(UnexpectedErrors)
    if config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(config.cors_origins),
            allow_methods=["*"],
            allow_headers=["*"],
        )
    # Added last, so outermost: the header is on the body limit's and CORS's answers too.
    app.add_middleware(NoSniff)
    install_error_handlers(app)
    install_request_metrics(app)
    for module in modules:
        app.include_router(module.router)
    if config.api_docs:
        app.include_router(api_docs.router)
    route_rules(app.routes)  # a route reading a body without a key stops the app here
    return app
