"""WebRTC: ``POST /v1/webrtc/offer`` turns an SDP offer into an answer that streams a live
session's avatar (video + audio, in sync) and listens to the caller's microphone.

The offer opens a session in the app's ``live_sessions``; the answer names it, and the
``/v1/live/{session_id}`` controls (and any other transport that knows the id) feed it.
Closing the peer connection frees the session; closing the session ends the connection.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Literal

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import SessionDescription
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, field_validator

from headcast.limits import MAX_SIZE_PX, MIN_SIZE_PX
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT, head_motion_intensity
from headcast.render import DEFAULT_ENGINE, check_engine
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.media_limits import check_image
from headcast.server.http.page_files import STATIC_DIR
from headcast.server.http.security import require_api_key
from headcast.server.routes.avatars import avatar_engine, ready_portrait
from headcast.server.sessions.webrtc_media import MicrophoneInput, SessionFeed
from headcast.server.sessions.webrtc_peer import LivePeer
from headcast.server.state import AppState, request_state

log = logging.getLogger(__name__)

router = APIRouter(tags=["webrtc"])

DEFAULT_PORTRAIT = STATIC_DIR / "default_portrait.png"  # the bundled astronaut photo
# Opus runs at 48 kHz: sessions made for WebRTC produce their audio at that rate.
WEBRTC_AUDIO_RATE_HZ = 48_000
# A peer that has not connected this long after its answer (the client went away) is closed.
CONNECT_TIMEOUT_S = 30.0


class WebRtcOffer(BaseModel):
    """An SDP offer, and the avatar the session shows."""

    sdp: str = Field(description="the browser's SDP offer; it must receive video")
    type: Literal["offer"] = "offer"
    image_b64: str | None = Field(
        None, description="portrait photo, base64 (a data: URL is fine); default: bundled"
    )
    avatar_id: str | None = Field(
        None,
        description="instead of image_b64: a stored avatar (POST /v1/avatars), a photo or "
        "an enrolled one",
    )
    size: int | None = Field(
        None,
        ge=MIN_SIZE_PX,
        le=MAX_SIZE_PX,
        description="video width and height in pixels (even); default: the server's",
    )
    head_motion: float = Field(
        HEAD_MOTION_DEFAULT,
        ge=0.0,
        le=1.0,
        description="how much the head moves while idle and speaking: 0 holds it still, 1 is "
        "the liveliest; true is the default, false 0",
    )
    seed: int = Field(0, description="seed for blinks and head sway")
    engine: str | None = Field(
        None,
        description="rendering engine (GET /v1/engines); default: the avatar's own "
        "(enrolled for an enrolled avatar, warp for a photo)",
    )

    @field_validator("head_motion", mode="before")
    @classmethod
    def _intensity(cls, value: object) -> float:
        return head_motion_intensity(value, "head_motion")


class WebRtcAnswer(BaseModel):
    sdp: str
    type: Literal["answer"] = "answer"
    session_id: str = Field(description="the live session: /v1/live/{session_id}/...")
    size: int
    fps: float


class IceServer(BaseModel):
    """One entry of ``RTCPeerConnection``'s ``iceServers``."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class IceServers(BaseModel):
    ice_servers: list[IceServer] = Field(
        description="pass as iceServers to RTCPeerConnection; empty: direct connections only"
    )


def ice_servers(config: ServerConfig) -> list[IceServer]:
    """The configured STUN servers, and the TURN servers with their credentials."""
    stun = [u for u in config.ice_servers if u.startswith("stun")]
    turn = [u for u in config.ice_servers if u.startswith("turn")]
    servers = [IceServer(urls=stun)] if stun else []
    if turn:
        servers.append(
            IceServer(urls=turn, username=config.turn_username, credential=config.turn_credential)
        )
    return servers


async def shutdown(state: AppState) -> None:
    """Close every browser's connection."""
    await asyncio.gather(*(close_peer(state, p) for p in list(state.webrtc_peers.values())))


async def close_peer(state: AppState, peer: LivePeer) -> None:
    """Free the session and the connection; safe to call more than once."""
    if peer.closing:
        return
    peer.closing = True
    state.webrtc_peers.pop(peer.live.id, None)
    state.live_sessions.close(peer.live.id)
    current = asyncio.current_task()
    for task in list(peer.tasks):
        if task is not current:
            task.cancel()
    await peer.feed.stop()
    await peer.pc.close()


@router.post(
    "/v1/webrtc/offer",
    response_model=WebRtcAnswer,
    summary="Open a live avatar session over WebRTC",
    responses={400: {"description": "the SDP offer cannot be answered"}},
)
async def webrtc_offer(
    body: WebRtcOffer, request: Request, caller: str = Depends(require_api_key)
) -> WebRtcAnswer:
    state = request_state(request)
    config = state.config
    size_px = body.size or config.default_size_px
    if body.engine is not None:
        check_engine(body.engine, size_px=size_px, fps=config.default_fps, live=True)
    offer = _check_offer(body.sdp)
    if body.size is not None and body.size % 2:
        raise ApiError(422, "bad_input", "size must be an even number of pixels")
    image: bytes | Path
    if body.avatar_id is not None:
        if body.image_b64:
            raise ApiError(422, "bad_input", "send avatar_id or image_b64, not both")
        record, image = await ready_portrait(request, body.avatar_id, caller)
        engine = avatar_engine(record, body.engine)
    else:
        image, engine = _portrait(body.image_b64, config), body.engine or DEFAULT_ENGINE
    check_engine(engine, size_px=size_px, fps=config.default_fps, live=True)
    # The offer is taken in before the portrait is analysed, so a bad one costs nothing.
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[RTCIceServer(**i.model_dump()) for i in ice_servers(config)])
    )
    microphones: list[MediaStreamTrack] = []

    @pc.on("track")
    def _on_track(track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            microphones.append(track)

    try:
        await pc.setRemoteDescription(
            RTCSessionDescription(sdp=_without_end_of_candidates(body.sdp), type="offer")
        )
    except Exception as exc:
        await pc.close()
        raise ApiError(400, "bad_offer", f"the SDP offer cannot be answered: {exc}") from None
    try:
        live = await state.live_sessions.open(
            image,
            caller,
            size_px=body.size,
            output_rate=WEBRTC_AUDIO_RATE_HZ,
            realtime=True,
            head_motion=body.head_motion,
            seed=body.seed,
            engine=engine,
        )
    except BaseException:
        await pc.close()
        raise
    peer = LivePeer(live, pc, SessionFeed(live.session))
    state.webrtc_peers[live.id] = peer
    # The session was closed (DELETE, server shutdown): the connection goes with it.
    peer.feed.on_end = lambda: _spawn(peer, close_peer(state, peer))

    @pc.on("connectionstatechange")
    async def _on_state() -> None:
        if pc.connectionState in ("failed", "closed"):
            await close_peer(state, peer)

    try:
        pc.addTrack(peer.feed.video)
        if any(m.kind == "audio" for m in offer.media):  # a video-only offer gets no voice
            pc.addTrack(peer.feed.audio)
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:
        await close_peer(state, peer)
        raise ApiError(400, "bad_offer", f"the SDP offer cannot be answered: {exc}") from None
    for track in microphones:
        _spawn(peer, MicrophoneInput(track, state.live_sessions.speech(live)).run())
    _spawn(peer, _close_unless_connected(state, peer))
    return WebRtcAnswer(
        sdp=pc.localDescription.sdp,
        session_id=live.id,
        size=live.avatar.size_px,
        fps=live.session.fps,
    )


@router.get(
    "/v1/webrtc/ice-servers",
    response_model=IceServers,
    response_model_exclude_none=True,  # a STUN entry has no credentials, not null ones
    summary="The STUN/TURN servers a browser should use for its offer",
)
async def webrtc_ice_servers(
    request: Request, caller: str = Depends(require_api_key)
) -> IceServers:
    return IceServers(ice_servers=ice_servers(request_state(request).config))


def _without_end_of_candidates(sdp: str) -> str:
    """Browsers offer mDNS (.local) host candidates, which this server cannot resolve; when
    the offer also says the candidates are complete (Firefox does), aiortc gives up on ICE
    before gathering its own and answers with none. Without the marker it answers with its
    addresses and learns the browser's from the browser's connectivity checks."""
    return re.sub(r"^a=end-of-candidates\r?\n", "", sdp, flags=re.MULTILINE)


def _check_offer(sdp: str) -> SessionDescription:
    try:
        description = SessionDescription.parse(sdp)
    except Exception:  # aiortc's parser fails with asserts and unpacking errors
        raise ApiError(400, "bad_offer", "the SDP offer cannot be parsed") from None
    if not description.media:
        raise ApiError(400, "bad_offer", "the SDP offer has no media sections")
    if not any(m.kind == "video" and m.direction in (None, "recvonly", "sendrecv")
               for m in description.media):  # fmt: skip
        raise ApiError(400, "bad_offer", "the SDP offer must receive video (a recvonly video)")
    return description


def _portrait(image_b64: str | None, config: ServerConfig) -> bytes:
    if image_b64 is None or not image_b64.strip():
        return DEFAULT_PORTRAIT.read_bytes()
    text = image_b64.strip()
    if text.startswith("data:"):
        text = text.partition(",")[2]
    text = "".join(text.split())  # line-wrapped base64 is common
    if len(text) * 3 // 4 > config.max_upload_bytes:
        raise ApiError(
            413, "too_large",
            f"image_b64: larger than the {config.max_upload_bytes // (1024 * 1024)} MB limit",
        )  # fmt: skip
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "bad_input", "image_b64: not valid base64") from None
    check_image(data, "image_b64", config)
    return data


async def _close_unless_connected(state: AppState, peer: LivePeer) -> None:
    await asyncio.sleep(CONNECT_TIMEOUT_S)
    if peer.pc.connectionState != "connected":
        log.info("live session %s: the peer never connected", peer.live.id)
        await close_peer(state, peer)


def _spawn(peer: LivePeer, work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    peer.tasks.add(task)
    task.add_done_callback(peer.tasks.discard)
    task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if task.exception() is not None:
            log.error("live session task failed", exc_info=task.exception())
