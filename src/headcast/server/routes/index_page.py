"""The web page at ``/``: pick or upload a portrait, type text or upload speech, render, watch.

Static HTML, JS and CSS from ``static/``: no build step and nothing from a CDN. The page calls
the avatars and jobs API with the API key the user types, kept in the browser's localStorage.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from headcast.server.http.errors import ApiError
from headcast.server.http.page_files import MEDIA_TYPES, STATIC_DIR, page_file, page_headers

# Scripts and styles only from this server; videos and thumbnails are fetched as blobs.
PAGE_HEADERS = page_headers(
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'"
)

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
        or path.suffix not in MEDIA_TYPES
        or not path.is_file()
    ):
        raise ApiError(404, "not_found", f"no static file '{name}'")
    return page_file(name, PAGE_HEADERS)
