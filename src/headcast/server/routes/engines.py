"""``GET /v1/engines``: the rendering engines this service can use, and what each can do."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from headcast.render import DEFAULT_ENGINE, list_engines
from headcast.server.http.security import require_api_key

router = APIRouter(tags=["engines"])


@router.get("/v1/engines", summary="The rendering engines and what each can do")
def engines(_caller: str = Depends(require_api_key)) -> dict[str, Any]:
    # A plain function: FastAPI runs it in a worker thread, where a first listing may import
    # the engines' packages without holding up the event loop.
    listing = {e.name: e.capabilities.as_dict() for e in list_engines()}
    return {"default": DEFAULT_ENGINE, "engines": listing}
