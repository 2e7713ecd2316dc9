"""``/v1/jobs``: queued renders of a stored avatar speaking uploaded audio or text.

Everything that can be wrong with a request is found here, before the job is stored: the
avatar must exist, the audio must decode within the limits, the text and voice must be usable.
A job that is accepted fails later only for reasons nobody could see at submit time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, JSONResponse

from headcast.animate import check_file_engine
from headcast.errors import InputError
from headcast.server.config import ServerConfig
from headcast.server.http.audio_upload import check_audio
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_text
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_upload
from headcast.server.http.video_options import check_video_options
from headcast.server.jobs.queueing import check_room, submit
from headcast.server.jobs.record import (
    JOB_ID_PATTERN,
    JobFiles,
    JobKind,
    JobRecord,
    JobState,
    owner_id,
)
from headcast.server.jobs.store import JobStore, open_job_store
from headcast.server.jobs.worker import JobWorkers, remove_job_files
from headcast.server.routes.avatars import avatar_engine, ready_portrait
from headcast.server.state import AppState, JobSystem, request_state
from headcast.speech import DEFAULT_VOICE, get_backend
from headcast.speech import check_text as check_speakable_text

MAX_LISTED_JOBS = 1000

router = APIRouter(tags=["jobs"])


async def startup(state: AppState) -> None:
    """Open the job store and start the workers (after the data directory is locked)."""
    config = state.config
    worker_log = logging.getLogger(JobWorkers.__module__)
    if worker_log.level == logging.NOTSET:  # job starts and requeues are the audit trail
        worker_log.setLevel(logging.INFO)
    store = await asyncio.to_thread(open_job_store, config, state.data_dir_lock)
    files = JobFiles.under(config.data_dir)
    workers = JobWorkers(config, store, state.avatars, files)
    await asyncio.to_thread(workers.start)
    state.jobs = JobSystem(store, files, workers)


async def shutdown(state: AppState) -> None:
    jobs, state.jobs = state.jobs, None
    if jobs is not None:
        await asyncio.to_thread(jobs.workers.stop)
        await asyncio.to_thread(jobs.store.close, jobs.workers.worker_id)


def _store(request: Request) -> JobStore:
    return request_state(request).job_system.store


async def _owned_job(request: Request, job_id: str, caller: str) -> JobRecord:
    job = None
    if JOB_ID_PATTERN.match(job_id):
        job = await asyncio.to_thread(_store(request).get, job_id)
    if job is None or job.owner != owner_id(caller):
        raise ApiError(404, "no_such_job", f"no job '{job_id[:64]}'")
    return job


@router.post("/v1/jobs", status_code=202, summary="Queue a render of an avatar speaking")
async def post_job(
    request: Request,
    avatar_id: Annotated[str, Form(description="from POST /v1/avatars")],
    audio: Annotated[UploadFile | None, File(description="speech to animate")] = None,
    text: Annotated[
        str | None, Form(description="transcript of the audio, or words to speak without it")
    ] = None,
    voice: Annotated[str | None, Form(description="built-in voice for text, e.g. en-us")] = None,
    format: Annotated[str | None, Form(description="mp4 (default) or webm")] = None,
    fps: Annotated[float | None, Form(description="frames per second (default 25)")] = None,
    size: Annotated[int | None, Form(description="width and height in pixels")] = None,
    engine: Annotated[
        str | None,
        Form(description="rendering engine (GET /v1/engines); default: the avatar's own"),
    ] = None,
    caller: str = Depends(require_api_key),
) -> JSONResponse:
    config: ServerConfig = request_state(request).config
    options = check_video_options(format, fps, size, config, default_format="mp4")

    def check(name: str) -> None:
        try:
            check_file_engine(name, size_px=options.size_px, fps=options.fps)
        except InputError as e:
            raise ApiError(422, "bad_input", f"engine: {e}") from None

    if engine is not None:  # a mistake in the request is told before what is stored is read
        check(engine)
    avatar, _portrait = await ready_portrait(request, avatar_id, caller)
    engine = avatar_engine(avatar, engine)
    check(engine)
    words = check_text(text, "text", config)
    data: bytes | None = None
    if audio is not None:
        if voice:
            raise ApiError(422, "bad_input", "voice: only for text spoken by the built-in voice")
        data = await read_upload(audio, "audio", config.max_upload_bytes)
        await request_state(request).work_slots.run(check_audio, data, "audio", config)
    elif words is None:
        raise ApiError(422, "bad_input", "send audio, or text for the built-in voice to speak")
    else:
        words = check_speakable_text(words, config.max_text_chars)
        get_backend().check_voice(voice.strip() if voice and voice.strip() else DEFAULT_VOICE)

    store = _store(request)
    owner = owner_id(caller)
    await check_room(store, owner, config)
    job = JobRecord.new(
        owner,
        avatar_id=avatar.id,
        format=options.format,
        fps=options.fps,
        size_px=options.size_px,
        has_audio=data is not None,
        text=words,
        voice=(voice.strip() or None) if voice and data is None else None,
        engine=engine,
    )
    files: JobFiles = request_state(request).job_system.files
    if data is not None:
        await asyncio.to_thread(_write_new_file, files.audio(job.id), data)
    try:
        await submit(store, job, config)
    except ApiError:
        remove_job_files(files, job.id)
        raise
    return JSONResponse(job.to_api(), 202, headers={"Location": f"/v1/jobs/{job.id}"})


def _write_new_file(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name and rename it, so no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


@router.get("/v1/jobs", summary="The caller's jobs, newest first")
async def list_jobs(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=MAX_LISTED_JOBS)] = 100,
    caller: str = Depends(require_api_key),
) -> dict:
    jobs = await asyncio.to_thread(_store(request).list, owner_id(caller), limit)
    return {"jobs": [job.to_api() for job in jobs]}


@router.get("/v1/jobs/{job_id}", summary="A job's state and progress")
async def get_job(request: Request, job_id: str, caller: str = Depends(require_api_key)) -> dict:
    return (await _owned_job(request, job_id, caller)).to_api()


@router.get(
    "/v1/jobs/{job_id}/video",
    summary="The finished video",
    response_class=FileResponse,
    responses={200: {"content": {"video/mp4": {}, "video/webm": {}}}},
)
async def get_job_video(
    request: Request, job_id: str, caller: str = Depends(require_api_key)
) -> FileResponse:
    job = await _owned_job(request, job_id, caller)
    if job.kind != JobKind.RENDER:
        raise ApiError(409, "not_a_render", "this job enrols an avatar; it makes no video")
    if job.state != JobState.SUCCEEDED:
        raise ApiError(409, "not_ready", f"the job is {job.state.value}; there is no video")
    path = request_state(request).job_system.files.video(job)
    if not path.is_file():
        raise ApiError(410, "gone", "the video of this job is no longer stored")
    return FileResponse(
        path,
        media_type="video/mp4" if job.format == "mp4" else "video/webm",
        filename=f"{job.id}.{job.format}",
    )


@router.delete("/v1/jobs/{job_id}", summary="Cancel a job")
async def cancel_job(request: Request, job_id: str, caller: str = Depends(require_api_key)) -> dict:
    job = await _owned_job(request, job_id, caller)
    was_queued = job.state == JobState.QUEUED
    if not job.state.finished:
        cancelled = await asyncio.to_thread(_store(request).cancel, job.id)
        job = cancelled or job
    if was_queued and job.state == JobState.CANCELLED:  # no worker will read its input
        if job.kind == JobKind.ENROL:
            await asyncio.to_thread(request_state(request).avatars.end_enrolment, job.avatar_id)
        else:
            remove_job_files(request_state(request).job_system.files, job.id)
    return job.to_api()
