"""Prometheus metrics at ``/metrics``: requests, rendered frames, queue depth, live sessions.

Parts that render call ``record_render``; gauges are read from the app state at scrape time
(``app_state(app).queue_depth`` is a callable set by the job system).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry()
REQUESTS = Counter(
    "headcast_http_requests", "HTTP requests", ["method", "route", "status"], registry=REGISTRY
)
REQUEST_SECONDS = Histogram(
    "headcast_http_request_seconds", "HTTP request duration", ["route"], registry=REGISTRY
)
RENDERED_FRAMES = Counter("headcast_rendered_frames", "frames rendered", registry=REGISTRY)
RENDER_SECONDS = Counter(
    "headcast_render_seconds", "seconds spent rendering frames", registry=REGISTRY
)
QUEUE_DEPTH = Gauge("headcast_queue_depth", "render jobs waiting", registry=REGISTRY)
ACTIVE_SESSIONS = Gauge("headcast_active_sessions", "live sessions open", registry=REGISTRY)
RENDER_FPS = Gauge(
    "headcast_render_fps", "frames per second of rendering, since start", registry=REGISTRY
)


def record_render(frames: int, seconds: float) -> None:
    """Count ``frames`` rendered in ``seconds`` of work."""
    RENDERED_FRAMES.inc(frames)
    RENDER_SECONDS.inc(max(seconds, 0.0))


def install_request_metrics(app: FastAPI) -> None:
    @app.middleware("http")
    async def _count(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        REQUESTS.labels(request.method, path, str(response.status_code)).inc()
        REQUEST_SECONDS.labels(path).observe(time.perf_counter() - started)
        return response


def scrape(queue_depth: int, live_sessions: int) -> bytes:
    """Every metric in Prometheus' text format, with the gauges set to the values given."""
    QUEUE_DEPTH.set(queue_depth)
    ACTIVE_SESSIONS.set(live_sessions)
    seconds = RENDER_SECONDS._value.get()
    RENDER_FPS.set(RENDERED_FRAMES._value.get() / seconds if seconds > 0 else 0.0)
    return generate_latest(REGISTRY)
