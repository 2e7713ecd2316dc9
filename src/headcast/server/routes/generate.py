"""``POST /v1/generate``: the OmniRT / FlashHead HTTP protocol that OpenTalking speaks.

Request: ``{"task": "audio2video", "model": ..., "inputs": {"image": ..., "audio": ...},
"config": {...}}``. Each input is a path inside ``ServerConfig.shared_dir`` (absolute or
relative to it), a ``data:`` URI, or bare base64; instead of ``image``, ``avatar_id`` names a
stored avatar (an enrolled one is drawn by its own engine). URLs are refused: fetching them would let a
caller make this server reach internal addresses. Unknown config keys are ignored.

Response: ``{"outputs": [{"kind": "video", "path", "mime": "video/mp4", "width", "height",
"num_frames", ...}]}``; the MP4 is written under ``<shared_dir>/headcast-output/``, where the
caller reads it, and removed after ``OUTPUT_KEEP_S``.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from headcast.animate import animate
from headcast.limits import MAX_FPS, MAX_SIZE_PX, MIN_FPS, MIN_SIZE_PX
from headcast.motion.head_intensity import head_motion_intensity
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image, check_text
from headcast.server.http.metrics import record_render
from headcast.server.http.security import require_api_key
from headcast.server.routes.avatars import ready_portrait
from headcast.server.state import request_state

TASK = "audio2video"
OUTPUT_FOLDER = "headcast-output"
OUTPUT_KEEP_S = 3600.0  # outputs older than this are deleted when the next request comes
# Bare base64 is told from a path by length and alphabet: real media is never this short,
# and a path this long made only of base64 characters does not occur.
MIN_BASE64_CHARS = 256
MAX_PATH_CHARS = 4096
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")

router = APIRouter(tags=["OmniRT"])


class GenerateInputs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    image: str | None = Field(
        None, description="portrait: path in the shared directory, data: URI or base64"
    )
    avatar_id: str | None = Field(
        None, description="instead of image: a stored avatar (POST /v1/avatars), enrolled or not"
    )
    audio: str = Field(description="speech: path in the shared directory, data: URI or base64")
    text: str | None = Field(None, description="transcript of the speech, for exact timing")


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task: str = Field(TASK, description='only "audio2video"')
    model: str | None = Field(None, description="accepted and echoed; headcast renders")
    inputs: GenerateInputs
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="fps (5-60), size (even, 128-2048), seed, head_motion (0 still to 1 the "
        "liveliest, or true/false; default 0); others are ignored",
    )


class GenerateOutput(BaseModel):
    kind: str = "video"
    path: str
    mime: str = "video/mp4"
    width: int
    height: int
    num_frames: int
    fps: float
    duration_s: float


class GenerateResponse(BaseModel):
    task: str
    model: str | None
    outputs: list[GenerateOutput]


@router.post(
    "/v1/generate",
    summary="OmniRT/FlashHead audio2video: render a portrait speaking into the shared directory",
    response_model=GenerateResponse,
)
async def post_generate(
    request: Request, body: GenerateRequest, caller: str = Depends(require_api_key)
) -> GenerateResponse:
    config: ServerConfig = request_state(request).config
    if config.shared_dir is None:
        raise ApiError(
            503, "not_configured",
            "/v1/generate needs a shared directory: set $HEADCAST_SHARED_DIR",
        )  # fmt: skip
    if body.task != TASK:
        raise ApiError(422, "bad_input", f"task: only '{TASK}' is supported, got '{body.task}'")
    fps = _config_number(body.config, "fps", config.default_fps, MIN_FPS, MAX_FPS)
    size = int(
        _config_number(body.config, "size", config.default_size_px, MIN_SIZE_PX, MAX_SIZE_PX)
    )
    if size % 2:
        raise ApiError(422, "bad_input", "config.size: must be an even number of pixels")
    seed = int(_config_number(body.config, "seed", 0, 0, 2**31 - 1))
    # Each call is rendered on its own, so head sway would restart at every chunk boundary
    # (a visible nod each second for OpenTalking's 1 s chunks): still unless asked for.
    try:
        head_motion = head_motion_intensity(
            body.config.get("head_motion", False), "config.head_motion"
        )
    except ValueError as exc:
        raise ApiError(422, "bad_input", str(exc)) from None
    text = check_text(body.inputs.text, "inputs.text", config)

    shared = SharedDir(config.shared_dir)
    image: bytes | Path
    if (body.inputs.image is None) == (body.inputs.avatar_id is None):
        raise ApiError(422, "bad_input", "inputs: send image or avatar_id, one of the two")
    if body.inputs.avatar_id is not None:
        _record, image = await ready_portrait(request, body.inputs.avatar_id, caller)
    else:
        image = read_input(body.inputs.image or "", "inputs.image", shared, config)
        check_image(image, "inputs.image", config)
    audio = read_input(body.inputs.audio, "inputs.audio", shared, config)
    out_dir = shared.output_folder()
    _remove_old_outputs(out_dir)
    name = f"{uuid.uuid4().hex}.mp4"

    result = await request_state(request).work_slots.run(
        animate,
        image,
        audio,
        out_dir / name,
        text=text,
        fps=fps,
        size=size,
        seed=seed,
        head_motion=head_motion,
        max_audio_s=config.max_audio_s,
        check_reference=False,
        allow_silence=True,
        motion_in_worker=True,  # other requests keep running meanwhile
    )
    stages = result.stage_seconds
    record_render(result.n_frames, stages.get("render", 0.0) + stages.get("encode", 0.0))
    output = GenerateOutput(
        path=str(shared.configured / OUTPUT_FOLDER / name),
        width=size,
        height=size,
        num_frames=result.n_frames,
        fps=fps,
        duration_s=round(result.audio_duration_s, 3),
    )
    return GenerateResponse(task=TASK, model=body.model, outputs=[output])


def _config_number(
    values: dict[str, Any], key: str, default: float, low: float, high: float
) -> float:
    value = values.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ApiError(422, "bad_input", f"config.{key}: must be a number")
    try:
        number = float(value)
    except ValueError:
        raise ApiError(422, "bad_input", f"config.{key}: must be a number") from None
    if not low <= number <= high:
        raise ApiError(422, "bad_input", f"config.{key}: must be between {low:g} and {high:g}")
    return number


class SharedDir:
    """The one folder /v1/generate may read from and write to, symlinks resolved."""

    def __init__(self, configured: Path) -> None:
        self.configured = Path(os.path.abspath(configured))
        try:
            self.root = self.configured.resolve(strict=True)
        except OSError:
            raise ApiError(
                503, "not_configured", "the shared directory does not exist on this server"
            ) from None

    def _inside(self, path: str) -> bool:
        return any(
            path == str(base) or path.startswith(str(base).rstrip("/") + "/")
            for base in (self.configured, self.root)
        )

    def resolve(self, raw: str, field: str) -> Path:
        """The real path of a file the caller named; 403 outside, symlinks included."""
        if "\x00" in raw or len(raw) > MAX_PATH_CHARS:
            raise ApiError(422, "bad_input", f"{field}: not a usable path")
        lexical = os.path.normpath(raw if os.path.isabs(raw) else self.configured / raw)
        if not self._inside(lexical):
            raise ApiError(403, "forbidden_path", f"{field}: outside the shared directory")
        try:
            real = Path(lexical).resolve(strict=True)
        except (OSError, RuntimeError):
            raise ApiError(
                422, "bad_input", f"{field}: no such file in the shared directory"
            ) from None
        if real != self.root and not real.is_relative_to(self.root):
            raise ApiError(403, "forbidden_path", f"{field}: outside the shared directory")
        if not real.is_file():
            raise ApiError(422, "bad_input", f"{field}: not a file")
        return real

    def output_folder(self) -> Path:
        folder = self.root / OUTPUT_FOLDER
        try:
            folder.mkdir(exist_ok=True)
        except OSError as exc:
            raise ApiError(
                503, "not_configured", f"cannot write the shared directory: {exc}"
            ) from None
        # Whoever shares the folder could plant a link here to make us write elsewhere.
        if folder.is_symlink() or not folder.is_dir():
            raise ApiError(
                503, "not_configured", f"{OUTPUT_FOLDER} in the shared directory is not a folder"
            )
        return folder


def read_input(raw: str, field: str, shared: SharedDir, config: ServerConfig) -> bytes:
    """The bytes of one input: a data: URI, bare base64, or a file in the shared directory."""
    value = raw.strip()
    if not value:
        raise ApiError(422, "bad_input", f"{field}: empty")
    if value.startswith("data:"):
        header, sep, payload = value.partition(",")
        if not sep or not header.endswith(";base64"):
            raise ApiError(422, "bad_input", f"{field}: only base64 data: URIs are accepted")
        return _decode_base64(payload, field, config)
    if value.startswith("file://"):
        value = value.removeprefix("file://")
    elif _URL_SCHEME.match(value):
        raise ApiError(
            422, "url_not_allowed",
            f"{field}: URLs are not fetched; pass a path in the shared directory or base64",
        )  # fmt: skip
    elif len(value) >= MIN_BASE64_CHARS and _BASE64.fullmatch(value):
        return _decode_base64(value, field, config)
    path = shared.resolve(value, field)
    return _read_file(path, field, config.max_upload_bytes)


def _decode_base64(payload: str, field: str, config: ServerConfig) -> bytes:
    if len(payload) * 3 // 4 > config.max_upload_bytes:
        raise ApiError(413, "too_large", f"{field}: larger than the upload limit")
    cleaned = payload.strip().replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "bad_input", f"{field}: not valid base64") from None
    if not data:
        raise ApiError(422, "bad_input", f"{field}: empty")
    return data


def _read_file(path: Path, field: str, max_bytes: int) -> bytes:
    try:
        # O_NOFOLLOW: the file must not have become a link since it was resolved.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        raise ApiError(422, "bad_input", f"{field}: cannot read the file") from None
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(413, "too_large", f"{field}: larger than the upload limit")
    if not data:
        raise ApiError(422, "bad_input", f"{field}: the file is empty")
    return data


def _remove_old_outputs(folder: Path) -> None:
    cutoff = time.time() - OUTPUT_KEEP_S
    for entry in os.scandir(folder):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
        except OSError:
            pass  # another replica removed it first
