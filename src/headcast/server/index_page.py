"""The web page at ``/``: pick or upload a portrait, type text or upload speech, render, watch.

Static HTML, JS and CSS from ``static/``: no build step and nothing from a CDN. The page calls
the avatars and jobs API with the API key the user types, kept in the browser's localStorage.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from headcast.server.errors import ApiError

STATIC_DIR = Path(__file__).resolve().parent / "static"
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
# Scripts and styles only from this server; videos and thumbnails are fetched as blobs.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

router = APIRouter(tags=["pages"])


@router.get("/", include_in_schema=False)
async def index() -> FileResponse:
    return _static_file("index.html")


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> FileResponse:
    return _static_file(name)


def _static_file(name: str) -> FileResponse:
    # Only plain names of files shipped in static/: no folders, no dot files, no traversal.
    path = STATIC_DIR / name
    if (
        "/" in name
        or "\\" in name
        or name.startswith(".")
        or path.suffix not in _MEDIA_TYPES
        or not path.is_file()
    ):
        raise ApiError(404, "not_found", f"no static file '{name}'")
    return FileResponse(path, media_type=_MEDIA_TYPES[path.suffix], headers=PAGE_HEADERS)
