"""Reading uploads at the boundary: size limits while streaming, never trusting names."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import Request, UploadFile

from headcast.server.http.errors import ApiError

READ_CHUNK_BYTES = 1 << 20


async def read_upload(upload: UploadFile, field: str, max_bytes: int) -> bytes:
    """The upload's bytes; 413 past ``max_bytes``, 422 when empty. Type is checked by decoding."""
    return await _read_bounded(_upload_chunks(upload), field, max_bytes, "upload")


async def save_upload(upload: UploadFile, field: str, max_bytes: int, path: Path) -> int:
    """Write the upload to ``path`` a chunk at a time (never all of it in memory), with the
    limits of ``read_upload``; its size. A refused upload leaves ``path`` for the caller to
    remove with the folder it is in."""
    total = 0
    with path.open("wb") as out:
        async for chunk in _upload_chunks(upload):
            total += len(chunk)
            if total > max_bytes:
                raise _too_large(field, max_bytes)
            await asyncio.to_thread(out.write, chunk)
    if total == 0:
        raise ApiError(422, "bad_input", f"{field}: the upload is empty")
    return total


async def read_body(request: Request, field: str, max_bytes: int) -> bytes:
    """A raw request body (``field`` names it in errors), with the limits of ``read_upload``."""
    return await _read_bounded(request.stream(), field, max_bytes, "request body")


async def _upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(READ_CHUNK_BYTES):
        yield chunk


async def _read_bounded(
    chunks: AsyncIterator[bytes], field: str, max_bytes: int, what: str
) -> bytes:
    # Counted as it arrives: nothing past the limit is held in memory.
    parts: list[bytes] = []
    total = 0
    async for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(field, max_bytes)
        parts.append(chunk)
    if total == 0:
        raise ApiError(422, "bad_input", f"{field}: the {what} is empty")
    return b"".join(parts)


def _too_large(field: str, max_bytes: int) -> ApiError:
    return ApiError(
        413, "too_large", f"{field}: larger than the {max_bytes // (1024 * 1024)} MB limit"
    )
