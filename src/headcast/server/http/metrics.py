"""Prometheus metrics at ``/metrics``: requests, rendered frames, queue depth, live sessions,
remote engines' latencies.

Parts that render call ``record_render``; gauges are read from the app state at scrape time
(``app_state(app).queue_depth`` is a callable set by the job system). Remote engines'
latencies come from live sessions (through their session process) and from renders in this
process (``remote_latency``'s observers).
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

from headcast.render.remote_latency import RemoteLatency, observe_remote_latency

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

# A remote engine's first frame includes connecting and session.create; a chunk's latency is
# its round trip (a realtime chunk, or one POST /v1/generate fragment), FlashHead's ~1 s
# windows at the top.
REMOTE_LATENCY_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)
REMOTE_FIRST_FRAME_SECONDS = Histogram(
    "headcast_remote_first_frame_seconds",
    "sessions on a remote engine: connecting (or the first request) to the first frame back",
    ["engine"],
    buckets=REMOTE_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
REMOTE_CHUNK_SECONDS = Histogram(
    "headcast_remote_chunk_seconds",
    "sessions on a remote engine: each chunk of speech sent to its frames back",
    ["engine"],
    buckets=REMOTE_LATENCY_BUCKETS_S,
    registry=REGISTRY,
)


def record_remote_latency(latency: RemoteLatency) -> None:
    """Count a session's remote engine latencies."""
    if latency.first_frame_ms is not None:
        REMOTE_FIRST_FRAME_SECONDS.labels(latency.engine).observe(latency.first_frame_ms / 1000)
    chunks = REMOTE_CHUNK_SECONDS.labels(latency.engine)
    for ms in latency.chunk_ms:
        chunks.observe(ms / 1000)


def record_render(frames: int, seconds: float) -> None:
    """Count ``frames`` rendered in ``seconds`` of work."""
    RENDERED_FRAMES.inc(frames)
    RENDER_SECONDS.inc(max(seconds, 0.0))


def install_request_metrics(app: FastAPI) -> None:
    """Count each request, and the latencies remote engines report while rendering here."""
    observe_remote_latency(record_remote_latency)

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
