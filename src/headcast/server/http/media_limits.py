"""Limits on uploaded media checked before any decoding: image kind and pixels, video kind and
length, text length.

The kind of a file is judged from its bytes, never from the client's file name or
Content-Type. An image's pixel count is read from its header, so a small file that declares
a huge picture (a decompression bomb) is refused without allocating it; a video's streams and
length are read from its container, none of its frames decoded.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image, UnidentifiedImageError

from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError

# What the portrait decoders accept (face.image_io); anything else is refused up front.
PHOTO_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "HEIF", "AVIF", "TIFF", "BMP", "MPO"})


@dataclass(frozen=True)
class ImageHeader:
    """What a photo's header says about it."""

    format: str  # Pillow's format name, e.g. "JPEG"
    width: int
    height: int

    @property
    def extension(self) -> str:
        return {"JPEG": ".jpg", "MPO": ".jpg", "HEIF": ".heic"}.get(
            self.format, "." + self.format.lower()
        )


def check_image(data: bytes, field: str, config: ServerConfig) -> ImageHeader:
    """The header of a photo upload: 422 if it is no photo, 413 past ``max_image_pixels``."""
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns or raises at open; ours is the limit that counts.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt, (width, height) = img.format or "", img.size
    except Image.DecompressionBombError:
        raise _too_many_pixels(field, None, config.max_image_pixels) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise ApiError(
            422, "bad_input", f"{field}: not an image this service can read (JPEG, PNG, WebP)"
        ) from None
    if fmt not in PHOTO_FORMATS:
        raise ApiError(422, "bad_input", f"{field}: {fmt or 'this'} images are not accepted")
    if width * height > config.max_image_pixels:
        raise _too_many_pixels(field, (width, height), config.max_image_pixels)
    if width < 1 or height < 1:
        raise ApiError(422, "bad_input", f"{field}: the image has no pixels")
    return ImageHeader(fmt, width, height)


def _too_many_pixels(field: str, size: tuple[int, int] | None, max_pixels: int) -> ApiError:
    declared = f"{size[0]}x{size[1]}" if size else "declares more pixels than"
    limit = f"the {max_pixels / 1e6:g} megapixel limit"
    message = (
        f"{field}: the image is {declared}, over {limit}" if size else f"{field} {declared} {limit}"
    )
    return ApiError(413, "too_large", message)


@dataclass(frozen=True)
class VideoHeader:
    """What a video's container says about it."""

    format: str  # FFmpeg's name of the container, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    width: int
    height: int
    fps: float
    duration_s: float  # 0 when the container does not say


# Still pictures FFmpeg would read as a video of one frame.
_STILL_IMAGE_FORMATS = ("image2", "_pipe")
MAX_VIDEO_SIDE_PX = 7680  # 8K: more than any camera clip


def check_video(path: Path, field: str, config: ServerConfig) -> VideoHeader:
    """The header of a video upload stored at ``path``: 422 if it is no video (a container
    with a video stream, not a still picture) or is longer than ``max_enrol_s``."""
    not_video = ApiError(
        422, "bad_input", f"{field}: not a video this service can read (MP4, MOV, WebM, MKV...)"
    )
    try:
        with av.open(f"file:{path}", mode="r") as container:
            name = container.format.name
            if not container.streams.video or any(s in name for s in _STILL_IMAGE_FORMATS):
                raise not_video
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            rate = stream.average_rate or stream.guessed_rate
            if stream.duration is not None and stream.time_base is not None:
                duration_s = float(stream.duration * stream.time_base)
            else:
                duration_s = (container.duration or 0) / 1_000_000
    except (av.error.FFmpegError, OSError, ValueError):
        raise not_video from None
    if not (0 < width <= MAX_VIDEO_SIDE_PX and 0 < height <= MAX_VIDEO_SIDE_PX):
        raise ApiError(422, "bad_input", f"{field}: frames of {width}x{height} are not accepted")
    if duration_s > config.max_enrol_s:
        raise ApiError(
            422,
            "too_long",
            f"{field}: {duration_s:.0f} s long, over the limit of {config.max_enrol_s:g} s",
        )
    return VideoHeader(name, width, height, float(rate) if rate else 0.0, duration_s)


def check_text(text: str | None, field: str, config: ServerConfig) -> str | None:
    """``text`` stripped (None when blank); 422 past ``max_text_chars``."""
    if text is None or not text.strip():
        return None
    if len(text) > config.max_text_chars:
        raise ApiError(
            422,
            "too_long",
            f"{field}: {len(text)} characters, over the limit of {config.max_text_chars}",
        )
    return text.strip()
