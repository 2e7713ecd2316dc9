"""The OmniRT realtime-avatar protocol on the wire, as a client sees it (and the messages a
server builds the same way for any client: ``created_message``, ``video_message``).

JSON text messages: ``session.create`` (model, ``inputs.image_b64``, ``config``) answered by
``session.created`` (``audio``: format, sample rate, ``chunk_samples``; ``video``: fps, size,
encoding); ``session.cancel``, ``session.close``, ``ping``; ``metrics`` and ``error {code,
message}`` from the server. Binary messages: ``AUDI`` + int16 LE PCM of exactly
``chunk_samples`` samples; ``VIDX`` + u32 LE frame count + (u32 LE length + JPEG) per frame.
Fields a server adds are ignored.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

MAGIC_AUDIO = b"AUDI"
MAGIC_VIDEO = b"VIDX"
PCM_FORMAT = "pcm_s16le"
PORTRAIT_JPEG_QUALITY = 95


class WireError(Exception):
    """A message that does not follow the protocol (the text says what is wrong)."""


@dataclass(frozen=True)
class RemoteSessionSpec:
    """What ``session.created`` says the remote session takes and gives."""

    session_id: str
    sample_rate: int
    chunk_samples: int
    fps: float
    width: int
    height: int


def create_message(model: str, portrait_rgb: np.ndarray, config: dict[str, Any]) -> str:
    ok, jpeg = cv2.imencode(
        ".jpg",
        cv2.cvtColor(portrait_rgb, cv2.COLOR_RGB2BGR),
        [cv2.IMWRITE_JPEG_QUALITY, PORTRAIT_JPEG_QUALITY],
    )
    if not ok:
        raise ValueError("the portrait could not be encoded as JPEG")
    inputs = {"image_b64": base64.b64encode(jpeg.tobytes()).decode("ascii")}
    return json.dumps(
        {"type": "session.create", "model": model, "inputs": inputs, "config": config}
    )


def control_message(kind: str) -> str:
    """``session.cancel``, ``session.close`` or ``ping``."""
    return json.dumps({"type": kind})


def parse_text(text: str) -> dict[str, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        raise WireError("sent a text message that is not JSON") from None
    if not isinstance(message, dict):
        raise WireError("sent a JSON message that is not an object")
    return message


def error_text(message: dict[str, Any]) -> str:
    """An ``error`` message as one line: its code and message."""
    code = message.get("code") or "error"
    return f"error {code}: {message.get('message') or 'no message'}"


def session_spec(message: dict[str, Any]) -> RemoteSessionSpec:
    """The terms of a ``session.created`` message."""
    audio, video = message.get("audio"), message.get("video")
    if not isinstance(audio, dict) or not isinstance(video, dict):
        raise WireError("session.created lacks its audio or video terms")
    fmt = audio.get("format", PCM_FORMAT)
    if fmt != PCM_FORMAT:
        raise WireError(f"session.created asks for audio as {fmt!r}, not {PCM_FORMAT}")
    encoding = video.get("encoding", "jpeg-seq")
    if encoding != "jpeg-seq":
        raise WireError(f"session.created offers video as {encoding!r}, not jpeg-seq")
    try:
        spec = RemoteSessionSpec(
            session_id=str(message.get("session_id") or ""),
            sample_rate=int(audio["sample_rate"]),
            chunk_samples=int(audio["chunk_samples"]),
            fps=float(video["fps"]),
            width=int(video.get("width") or 0),
            height=int(video.get("height") or 0),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise WireError(f"session.created has a missing or bad field ({exc})") from None
    if min(spec.sample_rate, spec.chunk_samples) <= 0 or spec.fps <= 0:
        raise WireError("session.created gives a rate, chunk or fps that is not positive")
    return spec


def created_message(spec: RemoteSessionSpec, **video_extra: Any) -> dict[str, Any]:
    """The ``session.created`` message offering ``spec`` (``video_extra``: more fields of its
    ``video`` terms), as a server sends it."""
    return {
        "type": "session.created",
        "session_id": spec.session_id,
        "audio": {
            "format": PCM_FORMAT,
            "sample_rate": spec.sample_rate,
            "channels": 1,
            "chunk_samples": spec.chunk_samples,
        },
        "video": {
            "encoding": "jpeg-seq",
            "fps": spec.fps,
            "width": spec.width,
            "height": spec.height,
            **video_extra,
        },
    }


def audio_message(pcm: np.ndarray) -> bytes:
    return MAGIC_AUDIO + np.asarray(pcm, "<i2").tobytes()


def video_message(jpegs: list[bytes]) -> bytes:
    """A ``VIDX`` message of ``jpegs``, in order."""
    parts = [MAGIC_VIDEO, struct.pack("<I", len(jpegs))]
    for jpeg in jpegs:
        parts += [struct.pack("<I", len(jpeg)), jpeg]
    return b"".join(parts)


def video_jpegs(payload: bytes) -> list[bytes]:
    """The JPEGs of a ``VIDX`` message, in order."""
    if payload[:4] != MAGIC_VIDEO or len(payload) < 8:
        raise WireError(f"sent a binary message that is not VIDX (starts {payload[:4]!r})")
    (count,) = struct.unpack_from("<I", payload, 4)
    offset, jpegs = 8, []
    for _ in range(count):
        if offset + 4 > len(payload):
            raise WireError(f"sent a VIDX message cut short ({count} frames announced)")
        (length,) = struct.unpack_from("<I", payload, offset)
        offset += 4
        if offset + length > len(payload):
            raise WireError(f"sent a VIDX message cut short ({count} frames announced)")
        jpegs.append(payload[offset : offset + length])
        offset += length
    return jpegs


def decode_frame(jpeg: bytes, side_px: int) -> np.ndarray:
    """One JPEG frame → side×side×3 RGB (resized when the server renders another size)."""
    bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise WireError("sent a frame that is not a decodable JPEG")
    if bgr.shape[:2] != (side_px, side_px):
        bgr = cv2.resize(bgr, (side_px, side_px), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
