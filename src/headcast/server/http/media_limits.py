"""Limits on uploaded media checked before any decoding: image kind and pixels, text length.

The kind of a file is judged from its bytes, never from the client's file name or
Content-Type. An image's pixel count is read from its header, so a small file that declares
a huge picture (a decompression bomb) is refused without allocating it.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

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
