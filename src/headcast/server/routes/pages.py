"""The live page at ``/live``: talk to the avatar over WebRTC, by typing or by microphone.

Static HTML, JS and CSS from ``static/`` (no build step, nothing from a CDN), served under
``/live/`` so the page stands on its own whatever else the server serves.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from headcast.server.http.errors import ApiError
from headcast.server.http.page_files import page_file, page_headers

LIVE_ASSETS = frozenset({"common.js", "common.css", "live.js", "live.css", "default_portrait.png"})
PAGE_HEADERS = page_headers(
    # Scripts, styles and API calls only to this server; the video is a MediaStream.
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob: mediastream:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    # The microphone may be asked for on this page only.
    {"Permissions-Policy": "microphone=(self), camera=()"},
)

router = APIRouter(tags=["pages"])


@router.get("/live", include_in_schema=False)
async def live_page() -> FileResponse:
    return page_file("live.html", PAGE_HEADERS)


@router.get("/live/{name}", include_in_schema=False)
async def live_asset(name: str) -> FileResponse:
    if name not in LIVE_ASSETS:
        raise ApiError(404, "not_found", f"no file '{name}' on the live page")
    return page_file(name, PAGE_HEADERS)
