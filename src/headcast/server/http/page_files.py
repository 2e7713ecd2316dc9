"""The web pages' files, shipped in ``static/``: their media types and the headers every page
and asset is served with (each page adds its own Content-Security-Policy)."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def page_headers(
    content_security_policy: str, more: dict[str, str] | None = None
) -> dict[str, str]:
    """A page's headers: its policy, ``more`` of its own, and what all pages share.

    ``X-Content-Type-Options`` is on every response already (``security.NoSniff``).
    """
    return {
        "Content-Security-Policy": content_security_policy,
        **(more or {}),
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def page_file(name: str, headers: dict[str, str]) -> FileResponse:
    """The file ``static/<name>``, which the caller has checked is one to serve."""
    path = STATIC_DIR / name
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)
