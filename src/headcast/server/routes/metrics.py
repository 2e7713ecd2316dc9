"""``/metrics``: Prometheus metrics, never behind an API key (scrapers call it)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from headcast.server.http.metrics import scrape
from headcast.server.state import request_state

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state = request_state(request)
    queued = state.jobs.store.queued_count() if state.jobs is not None else 0
    body = scrape(queued, len(state.live_sessions))
    return Response(body, media_type=CONTENT_TYPE_LATEST)
