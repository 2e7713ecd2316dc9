"""``POST /animate``: a photo (or a stored avatar, enrolled ones included) and speech in, the
talking-head video out, in one call.

The render runs on the bounded work slots (429 with Retry-After when they are all taken and
the waiting line is full); the video is written to a temporary file in the data directory,
renamed when complete, sent, then deleted.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from headcast import settings
from headcast.animate import animate, check_file_engine
from headcast.errors import InputError
from headcast.render import DEFAULT_ENGINE
from headcast.server.config import ServerConfig
from headcast.server.http.audio_upload import check_audio
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image, check_text
from headcast.server.http.render_meter import RenderMeter
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_upload
from headcast.server.http.video_options import VideoOptions, check_video_options
from headcast.server.routes.avatars import avatar_engine, ready_portrait
from headcast.server.state import AppState, request_state

ENGINE_HEADER = "X-Headcast-Engine"  # the engine that made the video
STALE_OUTPUT_S = 3600.0  # outputs older than this were never collected (client went away)

router = APIRouter(tags=["video"])


def _output_folder(config: ServerConfig) -> Path:
    return config.data_dir / "animate"


async def startup(state: AppState) -> None:
    """Make the output folder; remove outputs no client collected."""
    folder = _output_folder(state.config)
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - STALE_OUTPUT_S
    for leftover in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


@router.post(
    "/animate",
    summary="A portrait and speech become a talking-head video (one call)",
    response_class=FileResponse,
    responses={200: {"content": {"video/webm": {}, "video/mp4": {}}}},
)
async def post_animate(
    request: Request,
    audio: Annotated[UploadFile, File(description="speech: WAV, MP3, OGG, FLAC, M4A, WebM")],
    image: Annotated[
        UploadFile | None, File(description="a portrait photo: JPEG, PNG, WebP, HEIC")
    ] = None,
    avatar_id: Annotated[
        str | None,
        Form(description="instead of image: a stored avatar (POST /v1/avatars), enrolled or not"),
    ] = None,
    text: Annotated[str | None, Form(description="transcript, for exact lip timing")] = None,
    format: Annotated[str | None, Form(description="webm (VP9 + Opus, default) or mp4")] = None,
    fps: Annotated[float | None, Form(description="frames per second (default 25)")] = None,
    size: Annotated[int | None, Form(description="width and height in pixels")] = None,
    engine: Annotated[
        str | None,
        Form(
            description="rendering engine (GET /v1/engines); default: the portrait's own "
            "(enrolled for an enrolled avatar, warp for a photo)"
        ),
    ] = None,
    caller: str = Depends(require_api_key),
) -> FileResponse:
    config: ServerConfig = request_state(request).config
    options = check_video_options(format, fps, size, config, default_format="webm")

    def check(name: str) -> None:
        try:
            check_file_engine(name, size_px=options.size_px, fps=options.fps)
        except InputError as e:
            raise ApiError(422, "bad_input", f"engine: {e}") from None

    if engine is not None:  # a mistake in the request is told before what is stored is read
        check(engine)
    if (image is None) == (avatar_id is None):
        raise ApiError(422, "bad_input", "send image (a photo) or avatar_id, one of the two")
    photo: bytes | Path
    if avatar_id is not None:
        record, photo = await ready_portrait(request, avatar_id, caller)
        engine = avatar_engine(record, engine)
    else:
        engine = engine or settings.engine() or DEFAULT_ENGINE
    check(engine)
    transcript = check_text(text, "text", config)
    speech = await read_upload(audio, "audio", config.max_upload_bytes)
    if image is not None:
        photo = await read_upload(image, "image", config.max_upload_bytes)
        check_image(photo, "image", config)
    output = _output_folder(config) / f"{secrets.token_hex(16)}.{options.format}"
    made_by = await request_state(request).work_slots.run(
        _render, photo, speech, transcript, options, output, config, engine
    )
    return FileResponse(
        output,
        media_type=options.media_type,
        filename=f"headcast.{options.format}",
        headers={ENGINE_HEADER: made_by},
        background=BackgroundTask(output.unlink, missing_ok=True),
    )


def _render(
    photo: bytes | Path,
    speech: bytes,
    transcript: str | None,
    options: VideoOptions,
    output: Path,
    config: ServerConfig,
    engine: str,
) -> str:
    """Decode (inside the slot: decoding is work too), then render to ``output``; returns the
    engine that made it (a fallback's, where it took over)."""
    check_audio(speech, "audio", config)
    result = animate(
        photo,
        speech,
        output,
        text=transcript,
        fps=options.fps,
        size=options.size_px,
        engine=engine,
        max_audio_s=config.max_audio_s,
        check_reference=False,
        progress=RenderMeter(),
        motion_in_worker=True,  # other requests keep running meanwhile
    )
    return result.engine
