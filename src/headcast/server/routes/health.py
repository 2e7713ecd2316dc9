"""Liveness and readiness probes (never behind an API key: orchestrators call them)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from headcast.server.state import request_state

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The service accepts work")
async def readyz(request: Request) -> JSONResponse:
    ready = request_state(request).ready
    return JSONResponse({"ready": ready}, 200 if ready else 503)
