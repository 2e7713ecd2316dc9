"""``/v1/avatars``: portraits uploaded once, analysed once, then used by id in jobs."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image

from headcast.errors import InputError
from headcast.face.avatar import prepare_avatar
from headcast.face.image_io import load_image
from headcast.face.reference_score import poor_reference_warnings, score_reference
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_upload
from headcast.server.jobs.avatar_store import AvatarRecord, AvatarStore
from headcast.server.jobs.record import owner_id
from headcast.server.routes.pick_reference import reference_entry
from headcast.server.state import AppState, request_state

MAX_NAME_CHARS = 255  # of the upload's file name, shown in the score and never used as a path

router = APIRouter(tags=["avatars"])


async def startup(state: AppState) -> None:
    """Open the stored avatars (the data directory is locked by now); clear half-made ones."""
    state.avatar_store = AvatarStore(state.config.data_dir / "avatars")
    state.avatar_store.remove_leftovers()


def owned_avatar(request: Request, avatar_id: str, caller: str) -> AvatarRecord:
    """The caller's avatar ``avatar_id``, or 404 (another caller's avatar is not revealed)."""
    record = request_state(request).avatars.get(avatar_id, owner_id(caller))
    if record is None:
        raise ApiError(404, "no_such_avatar", f"no avatar '{avatar_id[:64]}'")
    return record


@router.post("/v1/avatars", status_code=201, summary="Upload a portrait to animate later")
async def post_avatar(
    request: Request,
    image: Annotated[UploadFile, File(description="a portrait photo: JPEG, PNG, WebP, HEIC")],
    caller: str = Depends(require_api_key),
) -> JSONResponse:
    config: ServerConfig = request_state(request).config
    data = await read_upload(image, "image", config.max_upload_bytes)
    header = check_image(data, "image", config)
    shown_name = PurePosixPath((image.filename or "").replace("\\", "/")).name[:MAX_NAME_CHARS]
    entry, warnings, (width, height) = await request_state(request).work_slots.run(
        _analyse, data, shown_name or "image", config.default_size_px
    )
    record = request_state(request).avatars.create(
        owner_id(caller),
        data,
        width=width,
        height=height,
        media_type=Image.MIME.get(header.format, "application/octet-stream"),
        score=entry,
        warnings=warnings,
    )
    return JSONResponse(record.to_api(), 201, headers={"Location": f"/v1/avatars/{record.id}"})


def _analyse(
    data: bytes, shown_name: str, size_px: int
) -> tuple[dict[str, Any], list[str], tuple[int, int]]:
    """Score the photo as pick-reference does and prepare it once (which also warms the
    avatar cache that renders use); InputError when there is no face to animate."""
    rgb = load_image(data, name="image")
    result = score_reference(rgb, "image")
    if not result.face_found:
        raise InputError("image: no face found in the photo")
    prepare_avatar(data, size_px, name="image")
    warnings = poor_reference_warnings(result)
    return reference_entry(result, shown_name), warnings, result.image_size


@router.get("/v1/avatars", summary="The caller's avatars, newest first")
async def list_avatars(request: Request, caller: str = Depends(require_api_key)) -> dict:
    records = request_state(request).avatars.list(owner_id(caller))
    return {"avatars": [r.to_api() for r in records]}


@router.get("/v1/avatars/{avatar_id}", summary="One avatar")
async def get_avatar(
    request: Request, avatar_id: str, caller: str = Depends(require_api_key)
) -> dict:
    return owned_avatar(request, avatar_id, caller).to_api()


@router.get(
    "/v1/avatars/{avatar_id}/image",
    summary="The avatar's photo as uploaded",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def get_avatar_image(
    request: Request, avatar_id: str, caller: str = Depends(require_api_key)
) -> FileResponse:
    record = owned_avatar(request, avatar_id, caller)
    path = request_state(request).avatars.photo_path(record.id)
    if path is None or not path.is_file():
        raise ApiError(404, "no_such_avatar", f"no avatar '{avatar_id}'")
    return FileResponse(path, media_type=record.media_type)


@router.delete("/v1/avatars/{avatar_id}", status_code=204, summary="Delete an avatar")
async def delete_avatar(
    request: Request, avatar_id: str, caller: str = Depends(require_api_key)
) -> Response:
    record = owned_avatar(request, avatar_id, caller)
    request_state(request).avatars.delete(record.id)
    return Response(status_code=204)
