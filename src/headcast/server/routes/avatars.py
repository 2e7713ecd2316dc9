"""``/v1/avatars``: portraits uploaded once, analysed once, then used by id everywhere.

A photo is scored and prepared in the request (201). A video is stored and enrolled as a job
(202): the avatar is listed at once, ``enrolling`` with the job's progress, then ``ready``
with its coverage report, or ``failed`` with the reason.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path, PurePosixPath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse, Response
from PIL import Image
from starlette.requests import HTTPConnection

from headcast import settings
from headcast.enrol.store import PORTRAIT_FILE, read_meta
from headcast.errors import InputError
from headcast.face.avatar import prepare_avatar
from headcast.face.image_io import load_image
from headcast.face.reference_score import poor_reference_warnings, score_reference
from headcast.render import DEFAULT_ENGINE, ENROLLED_ENGINE
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image, check_text, check_video
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_upload, save_upload
from headcast.server.jobs.avatar_store import (
    ENROLLED_KIND,
    VIDEO_FILE,
    AvatarRecord,
    AvatarStore,
)
from headcast.server.jobs.queueing import check_room, submit
from headcast.server.jobs.record import JobKind, JobRecord, JobState, owner_id
from headcast.server.jobs.store import JobStore
from headcast.server.routes.pick_reference import reference_entry
from headcast.server.state import AppState, request_state

MAX_NAME_CHARS = 255  # of the upload's file name, shown in the score and never used as a path
ENROLLING, READY, FAILED = "enrolling", "ready", "failed"

router = APIRouter(tags=["avatars"])


async def startup(state: AppState) -> None:
    """Open the stored avatars (the data directory is locked by now); clear half-made ones."""
    state.avatar_store = AvatarStore(state.config.data_dir / "avatars")
    state.avatar_store.remove_leftovers()


def owned_avatar(conn: HTTPConnection, avatar_id: str, caller: str) -> AvatarRecord:
    """The caller's avatar ``avatar_id``, or 404 (another caller's avatar is not revealed)."""
    record = request_state(conn).avatars.get(avatar_id, owner_id(caller))
    if record is None:
        raise ApiError(404, "no_such_avatar", f"no avatar '{avatar_id[:64]}'")
    return record


async def ready_portrait(
    conn: HTTPConnection, avatar_id: str, caller: str
) -> tuple[AvatarRecord, Path]:
    """The caller's avatar and what to render it from (its photo, or its enrolled folder);
    404 when there is no such avatar, 409 while it is enrolling or after its enrolment
    failed."""
    state = request_state(conn)
    record = await asyncio.to_thread(owned_avatar, conn, avatar_id, caller)
    portrait = await asyncio.to_thread(state.avatars.portrait, record)
    shown = await asyncio.to_thread(enrolment_status, record, state.avatars, _jobs(state))
    if portrait is None or shown["status"] != READY:
        if shown["status"] == ENROLLING:
            raise ApiError(
                409,
                "avatar_not_ready",
                f"avatar '{record.id}' is still being enrolled ({shown['progress']:.0f} %); "
                "use it once GET /v1/avatars/{id} says ready",
            )
        reason = shown["error"] or "its files are gone"
        raise ApiError(409, "avatar_failed", f"avatar '{record.id}' cannot be used: {reason}")
    return record, portrait


def avatar_engine(record: AvatarRecord, requested: str | None) -> str:
    """The engine asked for, else the configured one, else the avatar's own."""
    return (
        requested or settings.engine() or (ENROLLED_ENGINE if record.enrolled else DEFAULT_ENGINE)
    )


def _jobs(state: AppState) -> JobStore | None:
    return state.jobs.store if state.jobs is not None else None


def enrolment_status(
    record: AvatarRecord, avatars: AvatarStore, jobs: JobStore | None
) -> dict[str, Any]:
    """``record.to_api()``, with an enrolled avatar's status, progress, error and coverage
    report: from its enrolled folder once there, else from its job."""
    shown = record.to_api()
    if not record.enrolled:
        return shown
    folder = avatars.portrait(record)
    if folder is not None:
        try:
            return {**shown, "coverage": read_meta(folder)["report"]}
        except (InputError, KeyError):
            return {**shown, "status": FAILED, "progress": 0.0,
                    "error": "stored in a format this server no longer reads: upload the "
                             "video again"}  # fmt: skip
    job = jobs.get(record.job_id) if jobs is not None and record.job_id else None
    if job is not None and not job.state.finished:
        return {**shown, "status": ENROLLING, "progress": round(job.progress, 1)}
    if job is not None and job.state == JobState.FAILED:
        error = job.error_message or "the enrolment failed"
    elif job is not None and job.state == JobState.CANCELLED:
        error = "the enrolment was cancelled"
    else:
        error = "the enrolment's result is gone"
    return {**shown, "status": FAILED, "progress": 0.0, "error": error}


@router.post(
    "/v1/avatars",
    status_code=201,
    summary="Upload a portrait photo, or a video of a person to enrol, to animate later",
    responses={
        202: {
            "description": "a video: its enrolment is queued; follow it at the Location "
            "(status enrolling, with progress, then ready or failed)"
        }
    },
)
async def post_avatar(
    request: Request,
    image: Annotated[
        UploadFile | None, File(description="a portrait photo: JPEG, PNG, WebP, HEIC")
    ] = None,
    video: Annotated[
        UploadFile | None,
        File(
            description="instead of a photo: a video of the person talking to camera (MP4, "
            "MOV, WebM...; 5 s to max_enrol_s, best a minute or more), enrolled as a job"
        ),
    ] = None,
    text: Annotated[
        str | None, Form(description="with a video: what is said in it, when known")
    ] = None,
    caller: str = Depends(require_api_key),
) -> JSONResponse:
    if (image is None) == (video is None):
        raise ApiError(
            422, "bad_input", "send one file: image (a photo) or video (a person to enrol)"
        )
    if video is not None:
        return await _post_video(request, video, text, caller)
    assert image is not None
    if text:
        raise ApiError(422, "bad_input", "text: only with a video")
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


async def _post_video(
    request: Request, video: UploadFile, text: str | None, caller: str
) -> JSONResponse:
    """Store the video, checked, and queue its enrolment."""
    state = request_state(request)
    config = state.config
    words = check_text(text, "text", config)
    store, owner = state.job_system.store, owner_id(caller)
    await check_room(store, owner, config)
    staging = await asyncio.to_thread(state.avatars.staging)
    try:
        await save_upload(video, "video", config.max_video_upload_bytes, staging / VIDEO_FILE)
        header = await asyncio.to_thread(check_video, staging / VIDEO_FILE, "video", config)
        job = JobRecord.new(
            owner,
            kind=JobKind.ENROL,
            avatar_id="",
            format="",
            fps=round(header.fps, 3),
            size_px=config.default_size_px,
            has_audio=False,
            text=words,
            voice=None,
            engine=ENROLLED_ENGINE,
        )
        record = await asyncio.to_thread(
            state.avatars.commit,
            staging,
            owner,
            width=header.width,
            height=header.height,
            media_type=_video_media_type(header.format),
            score={},
            kind=ENROLLED_KIND,
            job_id=job.id,
        )
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, staging, True)
        raise
    try:
        await submit(store, job.with_changes(avatar_id=record.id), config)
    except ApiError:
        await asyncio.to_thread(state.avatars.delete, record.id)
        raise
    shown = await asyncio.to_thread(enrolment_status, record, state.avatars, store)
    return JSONResponse(shown, 202, headers={"Location": f"/v1/avatars/{record.id}"})


def _video_media_type(container: str) -> str:
    for marker, media_type in (("mp4", "video/mp4"), ("webm", "video/webm"),
                               ("matroska", "video/x-matroska"), ("avi", "video/x-msvideo")):  # fmt: skip
        if marker in container:
            return media_type
    return "application/octet-stream"


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
    state = request_state(request)

    def shown() -> list[dict[str, Any]]:
        return [
            enrolment_status(r, state.avatars, _jobs(state))
            for r in state.avatars.list(owner_id(caller))
        ]

    return {"avatars": await asyncio.to_thread(shown)}


@router.get("/v1/avatars/{avatar_id}", summary="One avatar (an enrolled one with its status)")
async def get_avatar(
    request: Request, avatar_id: str, caller: str = Depends(require_api_key)
) -> dict:
    state = request_state(request)
    record = owned_avatar(request, avatar_id, caller)
    return await asyncio.to_thread(enrolment_status, record, state.avatars, _jobs(state))


@router.get(
    "/v1/avatars/{avatar_id}/image",
    summary="The avatar's photo as uploaded, or an enrolled avatar's representative frame",
    response_class=FileResponse,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}},
)
async def get_avatar_image(
    request: Request, avatar_id: str, caller: str = Depends(require_api_key)
) -> FileResponse:
    record, portrait = await ready_portrait(request, avatar_id, caller)
    path, media_type = (
        (portrait / PORTRAIT_FILE, "image/png")
        if record.enrolled
        else (portrait, record.media_type)
    )
    if not path.is_file():
        raise ApiError(404, "no_such_avatar", f"no avatar '{avatar_id}'")
    return FileResponse(path, media_type=media_type)


@router.delete(
    "/v1/avatars/{avatar_id}",
    status_code=204,
    summary="Delete an avatar and all its files (an enrolment under way is cancelled)",
)
async def delete_avatar(
    request: Request, avatar_id: str, caller: str = Depends(require_api_key)
) -> Response:
    state = request_state(request)
    record = owned_avatar(request, avatar_id, caller)
    if record.job_id is not None and state.jobs is not None:
        job = await asyncio.to_thread(state.jobs.store.get, record.job_id)
        if job is not None and not job.state.finished:
            await asyncio.to_thread(state.jobs.store.cancel, job.id)
    await asyncio.to_thread(state.avatars.delete, record.id)
    return Response(status_code=204)
