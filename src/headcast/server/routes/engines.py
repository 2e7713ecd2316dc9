"""``GET /v1/engines``: the rendering engines this service can use, what each can do, which
one renders when a request names none, and whether each can be used now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from headcast import settings
from headcast.render import DEFAULT_ENGINE, list_engines
from headcast.server.http.engine_health import ServerProbes, engine_health
from headcast.server.http.security import require_api_key

router = APIRouter(tags=["engines"])

# Shared by every app in the process: a remote server is probed at most once per cache period.
_probes = ServerProbes()


@router.get("/v1/engines", summary="The rendering engines, what each can do, their health")
def engines(_caller: str = Depends(require_api_key)) -> dict[str, Any]:
    # A plain function: FastAPI runs it in a worker thread, where a first listing may import
    # the engines' packages and probe remote servers without holding up the event loop.
    default = settings.engine() or DEFAULT_ENGINE
    listing = {
        e.name: {
            **e.capabilities.as_dict(),
            "default": e.name == default,
            "health": engine_health(e.name, e.capabilities, _probes),
        }
        for e in list_engines()
    }
    return {"default": default, "engines": listing}
