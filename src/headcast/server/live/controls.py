"""HTTP controls of a live session, whatever transport shows it (WebRTC, WebSocket):
speak text, push audio, end a turn, interrupt, close.

Only the caller that opened a session may control it.
"""

from __future__ import annotations

import asyncio

import numpy as np
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from headcast.audio.decode import load_audio
from headcast.limits import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from headcast.live.backlog import BacklogFull
from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.security import require_api_key
from headcast.server.http.uploads import read_body
from headcast.server.sessions.registry import RegisteredSession
from headcast.server.state import request_state

router = APIRouter(prefix="/v1/live", tags=["live"])


class SayRequest(BaseModel):
    text: str = Field(description="what the avatar says, with the built-in voice")
    voice: str | None = Field(None, description="built-in voice, e.g. en-us, de, fr-fr+f3")
    rate_wpm: float | None = Field(None, description="words per minute (80-450)")
    interrupt: bool = Field(False, description="stop what the avatar is saying first")


class Queued(BaseModel):
    session_id: str
    queued_s: float = Field(description="seconds of speech queued")


class LiveStatus(BaseModel):
    session_id: str
    size: int
    fps: float
    audio_rate: int


def _live(request: Request, session_id: str, caller: str) -> RegisteredSession:
    return request_state(request).live_sessions.get(session_id, caller)


@router.get("/{session_id}", response_model=LiveStatus, summary="A live session")
async def get_live(
    session_id: str, request: Request, caller: str = Depends(require_api_key)
) -> LiveStatus:
    live = _live(request, session_id, caller)
    return LiveStatus(
        session_id=live.id,
        size=live.avatar.size_px,
        fps=live.session.fps,
        audio_rate=live.session.output_rate,
    )


@router.post(
    "/{session_id}/say", response_model=Queued, summary="Speak text with the built-in voice"
)
async def say(
    session_id: str, body: SayRequest, request: Request, caller: str = Depends(require_api_key)
) -> Queued:
    config: ServerConfig = request_state(request).config
    live = _live(request, session_id, caller)
    if len(body.text) > config.max_text_chars:
        raise ApiError(
            422, "too_long",
            f"text: {len(body.text)} characters, over the limit of {config.max_text_chars}",
        )  # fmt: skip
    speech = request_state(request).live_sessions.speech(live)
    if body.interrupt:
        speech.interrupt()
    try:
        queued_s = await speech.say(
            body.text, body.voice, rate_wpm=body.rate_wpm, max_chars=config.max_text_chars
        )
    except BacklogFull as exc:
        raise backlog_full_error(exc) from None
    return Queued(session_id=live.id, queued_s=round(queued_s, 3))


@router.post(
    "/{session_id}/audio",
    response_model=Queued,
    summary="Push speech: an audio file, or raw PCM with ?sample_rate=",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def push_audio(
    session_id: str,
    request: Request,
    sample_rate: int | None = Query(
        None,
        ge=MIN_SAMPLE_RATE_HZ,
        le=MAX_SAMPLE_RATE_HZ,
        description="the body is raw PCM (signed 16-bit little-endian mono) at this rate; "
        "without it the body is an audio file (WAV, MP3, OGG, FLAC, M4A, WebM)",
    ),
    end: bool = Query(True, description="the turn is complete; false keeps it open for more audio"),
    caller: str = Depends(require_api_key),
) -> Queued:
    config: ServerConfig = request_state(request).config
    live = _live(request, session_id, caller)
    data = await read_body(request, "audio", config.max_upload_bytes)
    if sample_rate is not None:
        if len(data) % 2:
            raise ApiError(422, "bad_input", "raw PCM must be 16-bit samples (an even byte count)")
        samples = np.frombuffer(data, "<i2").astype(np.int16)
        rate = sample_rate
        if len(samples) / rate > config.max_audio_s:
            raise ApiError(
                422, "bad_input", f"the audio is longer than the {config.max_audio_s:g} s limit"
            )
    else:
        audio = await asyncio.to_thread(
            load_audio,
            data,
            sample_rate=live.session.output_rate,
            max_duration_s=config.max_audio_s,
        )
        samples, rate = audio.samples, audio.sample_rate
    try:
        pushed = (
            await request_state(request)
            .live_sessions.speech(live)
            .push(samples, rate, end=end, refuse_when_full=True)
        )
    except BacklogFull as exc:
        raise backlog_full_error(exc) from None
    return Queued(session_id=live.id, queued_s=round(len(samples) / rate if pushed else 0.0, 3))


def backlog_full_error(exc: BacklogFull) -> ApiError:
    """429 with the wait until the push fits; 422 for audio longer than the whole limit."""
    if not exc.ever_fits:
        return ApiError(422, "backlog_full", str(exc))
    return ApiError(429, "backlog_full", str(exc), headers={"Retry-After": str(exc.retry_after_s)})


@router.post("/{session_id}/end", status_code=204, summary="The current turn is complete")
async def end_turn(
    session_id: str, request: Request, caller: str = Depends(require_api_key)
) -> Response:
    live = _live(request, session_id, caller)
    await request_state(request).live_sessions.speech(live).end_segment()
    return Response(status_code=204)


@router.post("/{session_id}/interrupt", status_code=204, summary="Stop speaking at once")
async def interrupt(
    session_id: str, request: Request, caller: str = Depends(require_api_key)
) -> Response:
    live = _live(request, session_id, caller)
    request_state(request).live_sessions.speech(live).interrupt()
    return Response(status_code=204)


@router.delete("/{session_id}", status_code=204, summary="Close the session")
async def close(
    session_id: str, request: Request, caller: str = Depends(require_api_key)
) -> Response:
    live = _live(request, session_id, caller)
    request_state(request).live_sessions.close(live.id)
    return Response(status_code=204)
