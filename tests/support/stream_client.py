"""Reading what /v1/stream sends: JSON events and binary frames (header, JPEG, PCM)."""

from __future__ import annotations

import json
from typing import Any

from headcast.server.live.stream_ws import FRAME_HEADER


async def collect_stream(
    ws: Any, events: list[dict[str, Any]], frames: list[tuple[int, bytes]]
) -> None:
    """Until the socket closes: each JSON event into ``events``, each frame's (segment, JPEG)
    into ``frames``, in arrival order."""
    async for message in ws:
        if isinstance(message, str):
            events.append(json.loads(message))
        else:
            _, _, _, segment, jpeg_len, _ = FRAME_HEADER.unpack_from(message)
            body = message[FRAME_HEADER.size :]
            frames.append((segment, body[:jpeg_len]))
