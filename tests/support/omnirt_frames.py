"""Reading what an OmniRT realtime endpoint sends: VIDX messages, checked byte for byte apart
from the client's own parser (``omnirt_wire.video_jpegs``)."""

from __future__ import annotations

import struct


def vidx_jpegs(payload: bytes) -> list[bytes]:
    """The JPEGs of a VIDX message, which must hold exactly the frames it announces."""
    assert payload[:4] == b"VIDX"
    count, offset, jpegs = struct.unpack("<I", payload[4:8])[0], 8, []
    for _ in range(count):
        (length,) = struct.unpack("<I", payload[offset : offset + 4])
        jpegs.append(payload[offset + 4 : offset + 4 + length])
        offset += 4 + length
    assert offset == len(payload)
    return jpegs
