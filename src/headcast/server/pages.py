"""The live page at ``/live``: talk to the avatar over WebRTC, by typing or by microphone.

Static HTML, JS and CSS from ``static/`` (no build step, nothing from a CDN), served under
``/live/`` so the page stands on its own whatever else the server serves.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from headcast.server.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent / "static"
LIVE_ASSETS = {
    "live.js": "text/javascript; charset=utf-8",
    "live.css": "text/css; charset=utf-8",
    "default_portrait.png": "image/png",
}
PAGE_HEADERS = {
    # Scripts, styles and API calls only to this server; the video is a MediaStream.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    # The microphone may be asked for on this page only.
    "Permissions-Policy": "microphone=(self), camera=()",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["pages"])


@router.get("/live", include_in_schema=False)
async def live_page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "live.html", media_type="text/html; charset=utf-8", headers=PAGE_HEADERS
    )


@router.get("/live/{name}", include_in_schema=False)
async def live_asset(name: str) -> FileResponse:
    media_type = LIVE_ASSETS.get(name)
    if media_type is None:
        raise ApiError(404, "not_found", f"no file '{name}' on the live page")
    return FileResponse(STATIC_DIR / name, media_type=media_type, headers=PAGE_HEADERS)
