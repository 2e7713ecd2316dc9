"""Reading portrait photos safely: type judged by content, bounded size, EXIF orientation."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from headcast.errors import InputError

try:  # HEIC/HEIF photos from phones, when the plugin is installed (it is a dependency).
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - only without the dependency
    pass

MAX_IMAGE_PIXELS = 100_000_000  # a 100 MP photo is the largest we decode
MAX_DECODE_SIDE_PX = 4096  # larger photos are reduced while decoding


def load_image(source: str | Path | bytes, *, name: str | None = None) -> np.ndarray:
    """Decode a photo to an RGB uint8 array, honouring EXIF orientation.

    Very large photos are reduced at decode time (JPEG draft mode, then a resize) so that a
    48 MP phone picture costs no more than it needs to.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    if isinstance(source, bytes):
        stream: io.BytesIO | Path = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.exists():
            raise InputError(f"{label}: no such file")
        if not path.is_file():
            raise InputError(f"{label}: not a file")
        stream = path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(stream) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise InputError(
                        f"{label}: image is {width}x{height}, over the limit of "
                        f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels"
                    )
                img.draft("RGB", (MAX_DECODE_SIDE_PX, MAX_DECODE_SIDE_PX))
                upright = ImageOps.exif_transpose(img).convert("RGB")
                if max(upright.size) > MAX_DECODE_SIDE_PX:
                    upright.thumbnail(
                        (MAX_DECODE_SIDE_PX, MAX_DECODE_SIDE_PX), Image.Resampling.LANCZOS
                    )
                return np.asarray(upright, dtype=np.uint8).copy()
    except InputError:
        raise
    except PermissionError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror})") from exc
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise InputError(f"{label}: not an image this program can read") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{label}: the image is damaged or truncated ({exc})") from exc
