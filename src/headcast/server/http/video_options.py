"""The output options a render request may set, checked before any work is queued."""

from __future__ import annotations

from dataclasses import dataclass

from headcast.limits import MAX_FPS, MAX_SIZE_PX, MIN_FPS, MIN_SIZE_PX
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError

VIDEO_MEDIA_TYPES = {"mp4": "video/mp4", "webm": "video/webm"}


@dataclass(frozen=True)
class VideoOptions:
    format: str  # "mp4" (H.264 + AAC) or "webm" (VP9 + Opus)
    fps: float
    size_px: int

    @property
    def media_type(self) -> str:
        return VIDEO_MEDIA_TYPES[self.format]


def check_video_options(
    format: str | None,
    fps: float | None,
    size: int | None,
    config: ServerConfig,
    *,
    default_format: str,
) -> VideoOptions:
    """The options with defaults filled in; 422 naming the field that is out of range."""
    chosen = (format or default_format).strip().lower()
    if chosen not in VIDEO_MEDIA_TYPES:
        raise ApiError(
            422, "bad_input", f"format: '{format}' is not one of {', '.join(VIDEO_MEDIA_TYPES)}"
        )
    rate = config.default_fps if fps is None else fps
    if not MIN_FPS <= rate <= MAX_FPS:
        raise ApiError(422, "bad_input", f"fps: must be between {MIN_FPS:g} and {MAX_FPS:g}")
    side = config.default_size_px if size is None else size
    if not MIN_SIZE_PX <= side <= MAX_SIZE_PX or side % 2:
        raise ApiError(
            422,
            "bad_input",
            f"size: must be an even number of pixels from {MIN_SIZE_PX} to {MAX_SIZE_PX}",
        )
    return VideoOptions(chosen, float(rate), int(side))
