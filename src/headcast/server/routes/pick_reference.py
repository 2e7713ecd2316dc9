"""``POST /v1/pick-reference``: rank candidate portrait photos and say why.

Each entry has the shape of one photo in ``headcast pick-reference --json``, with the upload's
``filename`` in place of the path.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile

from headcast.face.reference_score import WEIGHTS, ReferenceScore, rank_references
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_upload
from headcast.server.state import request_state

MAX_IMAGES = 16
MAX_FILENAME_CHARS = 255

router = APIRouter(tags=["photos"])


def reference_entry(result: ReferenceScore, filename: str) -> dict[str, Any]:
    """One ranked photo as the API shows it (``to_dict`` without server paths)."""
    entry = result.to_dict()
    del entry["path"]
    return {"filename": filename, **entry}


@router.post("/v1/pick-reference", summary="Rank candidate portrait photos and explain why")
async def post_pick_reference(
    request: Request,
    images: Annotated[list[UploadFile], File(description="two or more portrait photos")],
    _caller: str = Depends(require_api_key),
) -> dict[str, Any]:
    config: ServerConfig = request_state(request).config
    if not images:
        raise ApiError(422, "bad_input", "images: send at least one photo")
    if len(images) > MAX_IMAGES:
        raise ApiError(422, "bad_input", f"images: at most {MAX_IMAGES} photos per request")
    photos: list[tuple[str, bytes, str]] = []  # (filename, bytes, extension by content)
    total = 0
    for i, upload in enumerate(images):
        field = f"images[{i}]"
        data = await read_upload(upload, field, config.max_upload_bytes)
        total += len(data)
        if total > config.max_upload_bytes:
            raise ApiError(413, "too_large", "images: together larger than the upload limit")
        header = check_image(data, field, config)
        photos.append((_display_name(upload.filename, i), data, header.extension))
    return await request_state(request).work_slots.run(_rank, photos)


def _rank(photos: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="headcast-pick-") as folder:
        names: dict[str, str] = {}
        paths = []
        for i, (filename, data, extension) in enumerate(photos):
            path = Path(folder) / f"{i:02d}{extension}"
            path.write_bytes(data)
            names[str(path)] = filename
            paths.append(path)
        ranked, skipped = rank_references(paths)
    if skipped:
        first = skipped[0]
        raise ApiError(422, "bad_input", f"{names.get(first.path, 'image')}: {first.reason}")
    usable = [r for r in ranked if r.usable]
    return {
        "ranking": [reference_entry(r, names[r.path]) for r in ranked],
        "best": names[usable[0].path] if usable else None,
        "weights": WEIGHTS,
    }


def _display_name(filename: str | None, index: int) -> str:
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    return name[:MAX_FILENAME_CHARS] or f"image-{index + 1}"
