"""The FastAPI application: configuration, shared state, error handling and the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from headcast import __version__
from headcast.server.config import ServerConfig
from headcast.server.http import api_docs
from headcast.server.http.admission import Admission, route_rules
from headcast.server.http.body_limit import RequestBodyLimit
from headcast.server.http.errors import UnexpectedErrors, install_error_handlers
from headcast.server.http.log_redaction import install_log_redaction
from headcast.server.http.metrics import install_request_metrics
from headcast.server.http.security import NoSniff
from headcast.server.jobs.data_dir_lock import lock_data_dir
from headcast.server.live import controls, omnirt_ws, stream_ws, webrtc
from headcast.server.routes import (
    animate,
    avatars,
    engines,
    generate,
    health,
    index_page,
    jobs,
    lipsync,
    metrics,
    pages,
    pick_reference,
)
from headcast.server.state import STATE_ATTRIBUTE, AppState

# In the order of the OpenAPI listing.
ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    metrics.router,
    lipsync.router,
    pick_reference.router,
    generate.router,
    index_page.router,
    animate.router,
    avatars.router,
    engines.router,
    jobs.router,
    webrtc.router,
    controls.router,
    pages.router,
    stream_ws.router,
    omnirt_ws.router,
)


async def _start(state: AppState) -> None:
    """What exists only while the service runs, in the order it depends on each other."""
    config = state.config
    # Before anything reads or cleans the directory: a second server stops here.
    state.data_dir_lock = None if config.redis_url else lock_data_dir(config.data_dir)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    await animate.startup(state)
    await avatars.startup(state)
    await jobs.startup(state)


async def _stop(state: AppState) -> None:
    state.live_sessions.close_all()
    await webrtc.shutdown(state)
    await jobs.shutdown(state)
    if state.data_dir_lock is not None:
        state.data_dir_lock.close()
        state.data_dir_lock = None


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The service, configured from ``config`` (default: the environment)."""
    config = config or ServerConfig.from_env()
    state = AppState.for_config(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_redaction()  # after the server has set up its loggers
        try:
            await _start(state)
            state.ready = True
            yield
        finally:
            state.ready = False
            await _stop(state)

    app = FastAPI(
        title="headcast",
        version=__version__,
        description="A portrait photo plus speech becomes a lip-synced talking-head video.",
        lifespan=lifespan,
        docs_url=None,  # api_docs serves Swagger UI from the package, not from a CDN
        redoc_url=None,
    )
    setattr(app.state, STATE_ATTRIBUTE, state)
    # Innermost first. A request meets: metrics, NoSniff, CORS, UnexpectedErrors, Admission
    # (key and rate, nothing read yet), then the body limits, then the routes.
    app.add_middleware(
        RequestBodyLimit,
        max_bytes=config.max_request_bytes,
        read_timeout_s=config.body_read_timeout_s,
    )
    app.add_middleware(
        Admission,
        config=config,
        rate_limiter=state.rate_limiter,
        auth_failures=state.auth_failures,
    )
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
    for router in ROUTERS:
        app.include_router(router)
    if config.api_docs:
        app.include_router(api_docs.router)
    route_rules(app.routes)  # a route reading a body without a key stops the app here
    return app
