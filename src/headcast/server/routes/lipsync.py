"""``POST /v1/lipsync``: speech → a lip-sync track for animators, in any export format."""

from __future__ import annotations

import enum
import json
from pathlib import PurePosixPath
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from headcast.limits import DEFAULT_FPS, MAX_FPS, MIN_FPS
from headcast.lipsync import lipsync
from headcast.motion.export import FORMATS, export
from headcast.server.config import ServerConfig
from headcast.server.http.media_limits import check_text
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_upload
from headcast.server.state import request_state

MAX_SOUND_FILE_CHARS = 255  # the upload's name, echoed in Rhubarb JSON/XML metadata
# With a transcript: how much of the speech it aligned, guided or left to free recognition
# (also in the body of the JSON formats, as "transcriptCoverage").
COVERAGE_HEADER = "X-Transcript-Coverage"

router = APIRouter(tags=["lip-sync"])

LipSyncFormat = enum.Enum(  # type: ignore[misc]
    "LipSyncFormat", {name.replace("-", "_"): name for name in FORMATS}, type=str
)
DEFAULT_FORMAT = LipSyncFormat("rhubarb-tsv")


@router.post(
    "/v1/lipsync",
    summary="Mouth cues, visemes or ARKit blendshapes for speech (no video)",
    response_class=Response,
    responses={200: {"content": {f.mime_type: {} for f in FORMATS.values()}}},
)
async def post_lipsync(
    request: Request,
    audio: Annotated[UploadFile, File(description="speech: WAV, MP3, OGG, FLAC, M4A, WebM")],
    text: Annotated[
        str | None,
        Form(description="transcript, for exact timing: plain text, or SubRip, WebVTT or .stm"),
    ] = None,
    format: Annotated[LipSyncFormat, Form(description="export format")] = DEFAULT_FORMAT,
    fps: Annotated[
        float, Form(ge=MIN_FPS, le=MAX_FPS, description="frame-based formats")
    ] = DEFAULT_FPS,
    extended_shapes: Annotated[
        str,
        Form(max_length=4, description="optional mouth shapes, of G, H and X; 'none' for A-F"),
    ] = "GHX",
    preston_blair: Annotated[bool, Form(description="dat: Preston Blair shape names")] = False,
    _caller: str = Depends(require_api_key),
) -> Response:
    config: ServerConfig = request_state(request).config
    fmt = FORMATS[LipSyncFormat(format).value]
    transcript = check_text(text, "text", config)
    data = await read_upload(audio, "audio", config.max_upload_bytes)
    sound_file = PurePosixPath((audio.filename or "").replace("\\", "/")).name
    result = await request_state(request).work_slots.run(
        lipsync,
        data,
        transcript,
        fps,
        # An empty form field arrives as the default, so "none" names the six basic shapes.
        extended_shapes="" if extended_shapes.strip().lower() == "none" else extended_shapes,
        sound_file=sound_file[:MAX_SOUND_FILE_CHARS],
        max_audio_s=config.max_audio_s,
        motion_in_worker=True,
    )
    content = export(result, fmt.name, preston_blair=preston_blair)
    headers = {"Content-Disposition": f'attachment; filename="lipsync{fmt.extension}"'}
    coverage = result.track.coverage
    if coverage is not None:
        figures = coverage.as_dict()
        headers[COVERAGE_HEADER] = ", ".join(f"{key}={value}" for key, value in figures.items())
        body = content.rstrip()
        if fmt.mime_type == "application/json" and body.endswith("}"):
            # One more member at the end, the export's own layout kept.
            content = f'{body[:-1].rstrip()},\n  "transcriptCoverage": {json.dumps(figures)}\n}}\n'

    return Response(content, media_type=fmt.mime_type, headers=headers)
