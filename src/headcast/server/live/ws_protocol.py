"""What the WebSocket transports share: authentication, bounded messages, JSON errors, the
limits on what a client may ask of a live session, and opening one from a base64 portrait or a
stored avatar's id.

Errors on a WebSocket are text messages ``{"type": "error", "code", "message"}``; a protocol
error drops the offending message and the connection (and its session) carries on. A client
over its message or byte rate gets a ``rate_limited`` error and the connection is closed (1008).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import WebSocket
from starlette.websockets import WebSocketState

from headcast.errors import HeadcastError, InputError
from headcast.limits import DEFAULT_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT, head_motion_intensity
from headcast.render import DEFAULT_ENGINE, check_engine
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image
from headcast.server.http.security import identify
from headcast.server.live.ws_rate import ConnectionRate
from headcast.server.routes.avatars import avatar_engine, ready_portrait
from headcast.server.sessions.registry import RegisteredSession
from headcast.server.state import request_state

# Room for JSON fields around a base64 portrait of ``max_upload_bytes``.
JSON_OVERHEAD_BYTES = 64 * 1024
POLICY_VIOLATION_CLOSE = 1008


class ProtocolError(Exception):
    """A client mistake that is answered with an error message; the connection stays open."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Incoming:
    """One message from the client: text or bytes (never both)."""

    text: str | None = None
    data: bytes | None = None

    @property
    def size(self) -> int:
        """Its length as counted against the limits (characters of a text message)."""
        return len(self.data) if self.data is not None else len(self.text or "")


def max_message_bytes(config: ServerConfig) -> int:
    """The largest message accepted: a portrait of ``max_upload_bytes`` sent as base64 JSON."""
    return (config.max_upload_bytes + 2) // 3 * 4 + JSON_OVERHEAD_BYTES


async def accept(websocket: WebSocket) -> str | None:
    """Accept the connection and authenticate it; the caller id, or None after refusing it."""
    await websocket.accept()
    try:
        state = request_state(websocket)
        caller = identify(websocket.scope, state.config, state.auth_failures)
        state.rate_limiter.check(caller)
    except ApiError as exc:
        await send_error(websocket, exc.code, exc.message)
        await websocket.close(POLICY_VIOLATION_CLOSE)
        return None
    return caller


def connection_rate(websocket: WebSocket) -> ConnectionRate:
    """A new connection's message and byte budget."""
    config: ServerConfig = request_state(websocket).config
    return ConnectionRate.for_config(config, max_message_bytes(config))


async def receive(websocket: WebSocket, rate: ConnectionRate) -> Incoming | None:
    """The next message, or None once the client has gone or was cut off for its rate."""
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    if message.get("text") is not None:
        incoming = Incoming(text=message["text"])
    else:
        incoming = Incoming(data=message.get("bytes") or b"")
    if (reason := rate.over_limit(incoming.size)) is not None:
        await send_error(websocket, "rate_limited", f"this connection sent {reason}")
        await websocket.close(POLICY_VIOLATION_CLOSE)
        return None
    # Messages already read are handed out without waiting: let other connections run first.
    await asyncio.sleep(0)
    return incoming


def check_size(incoming: Incoming, limit_bytes: int) -> None:
    if incoming.size > limit_bytes:
        raise ProtocolError(
            "message_too_large",
            f"a message of {incoming.size} bytes is over the limit of {limit_bytes}",
        )


def parse_json(text: str) -> dict[str, Any]:
    """A control message; NaN, Infinity and numbers out of a float's range are refused."""
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise ProtocolError("bad_json", f"not valid JSON: {exc.msg} at {exc.pos}") from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise ProtocolError("bad_request", f"not a usable number: {exc}") from None
    except RecursionError:
        raise ProtocolError("bad_json", "the JSON is nested too deeply") from None
    if not isinstance(value, dict):
        raise ProtocolError("bad_json", "a control message must be a JSON object")
    return value


def _refuse_constant(name: str) -> float:
    raise ProtocolError("bad_request", f"{name} is not a number a message may carry")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError("bad_request", f"the number {text} is out of range")
    return value


def decode_image_b64(value: object) -> bytes:
    """The portrait bytes of an ``image_b64`` field."""
    if not value:
        raise ProtocolError(
            "missing_image", "a portrait is required: avatar_id, or base64 in image_b64"
        )
    if not isinstance(value, str):
        raise ProtocolError("bad_image_base64", "image_b64 must be a base64 string")
    text = value.split(",", 1)[1] if value.startswith("data:") else value  # data: URLs too
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ProtocolError("bad_image_base64", "image_b64 is not valid base64") from None


def number(
    fields: dict[str, Any], name: str, default: float, lo: float, hi: float, *, integer: bool
) -> Any:
    """A numeric field within [lo, hi] (ints where ``integer``), or the default when absent."""
    value = fields.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError("bad_request", f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ProtocolError("bad_request", f"{name} must be a finite number, got {value}")
    if integer and value != int(value):
        raise ProtocolError("bad_request", f"{name} must be a whole number, got {value}")
    if not lo <= value <= hi:
        raise ProtocolError("bad_request", f"{name} must be within {lo:g}–{hi:g}, got {value}")
    return int(value) if integer else float(value)


def head_motion_field(fields: dict[str, Any]) -> float:
    """The ``head_motion`` field as an intensity: a number from 0 (still) to 1, or true (the
    default) / false (still); the default when absent."""
    value = fields.get("head_motion")
    if value is None:
        return HEAD_MOTION_DEFAULT
    try:
        return head_motion_intensity(value, "head_motion")
    except ValueError as exc:
        raise ProtocolError("bad_request", str(exc)) from None


def engine_field(fields: dict[str, Any], *, size_px: int, fps: float) -> str | None:
    """The engine named by the ``engine`` field, checked to render this size and rate live;
    None when it names none (the portrait's own is checked when the session opens)."""
    name = fields.get("engine")
    if name is None:
        return None
    if not isinstance(name, str):
        raise ProtocolError("bad_request", f"engine must be an engine's name, got {name!r}")
    _check_live_engine(name, size_px=size_px, fps=fps)
    return name


def _check_live_engine(name: str, *, size_px: int, fps: float) -> None:
    try:
        check_engine(name, size_px=size_px, fps=fps, live=True)
    except InputError as exc:
        raise ProtocolError("bad_request", str(exc)) from None


def input_sample_rate(fields: dict[str, Any]) -> int:
    """The rate of the PCM the client sends, from its ``sample_rate`` field."""
    return number(
        fields,
        "sample_rate",
        DEFAULT_SAMPLE_RATE_HZ,
        MIN_SAMPLE_RATE_HZ,
        MAX_SAMPLE_RATE_HZ,
        integer=True,
    )


async def open_live_session(
    websocket: WebSocket,
    portrait: dict[str, Any],
    caller: str,
    *,
    engine: str | None,
    size_px: int,
    fps: float,
    **options: Any,
) -> RegisteredSession:
    """A live session for the portrait ``portrait`` names: a stored avatar by ``avatar_id``
    (a photo or an enrolled one), or a photo in ``image_b64``. ``engine`` None draws it with
    its own engine; ``options`` go to ``LiveSessions.open``.

    A refused portrait or session (no face, too many sessions...) is a ``ProtocolError``.
    """
    config: ServerConfig = request_state(websocket).config
    avatar_id = portrait.get("avatar_id")
    try:
        image: bytes | Path
        if avatar_id is not None:
            if not isinstance(avatar_id, str):
                raise ProtocolError("bad_request", "avatar_id must be a string")
            if portrait.get("image_b64"):
                raise ProtocolError("bad_request", "send avatar_id or image_b64, not both")
            record, image = await ready_portrait(websocket, avatar_id, caller)
            engine = avatar_engine(record, engine)
        else:
            image = decode_image_b64(portrait.get("image_b64"))
            check_image(image, "image_b64", config)
            engine = engine or DEFAULT_ENGINE
        _check_live_engine(engine, size_px=size_px, fps=fps)
        return await request_state(websocket).live_sessions.open(
            image, caller, engine=engine, size_px=size_px, fps=fps, **options
        )
    except (ApiError, HeadcastError) as exc:
        raise as_protocol_error(exc) from None


def as_protocol_error(exc: ApiError | HeadcastError) -> ProtocolError:
    """A failure to open a session (no face, too many sessions...) in the protocol's terms."""
    if isinstance(exc, ApiError):
        return ProtocolError(exc.code, exc.message)
    return ProtocolError("bad_image", str(exc))


async def send_error(websocket: WebSocket, code: str, message: str) -> None:
    await send_json(websocket, {"type": "error", "code": code, "message": message})


async def send_json(websocket: WebSocket, payload: dict[str, Any]) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        await websocket.send_text(json.dumps(payload))
