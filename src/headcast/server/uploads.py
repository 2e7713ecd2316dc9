"""Reading uploads at the boundary: size limits while streaming, never trusting names."""

from __future__ import annotations

from fastapi import UploadFile

from headcast.server.errors import ApiError

READ_CHUNK_BYTES = 1 << 20


async def read_upload(upload: UploadFile, field: str, max_bytes: int) -> bytes:
    """The upload's bytes; 413 past ``max_bytes``, 422 when empty. Type is checked by decoding."""
    parts: list[bytes] = []
    total = 0
    while chunk := await upload.read(READ_CHUNK_BYTES):
        total += len(chunk)
        if total > max_bytes:
            raise ApiError(
                413, "too_large", f"{field}: larger than the {max_bytes // (1024 * 1024)} MB limit"
            )
        parts.append(chunk)
    if total == 0:
        raise ApiError(422, "bad_input", f"{field}: the upload is empty")
    return b"".join(parts)
