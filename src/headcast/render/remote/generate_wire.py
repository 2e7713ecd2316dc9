"""What goes into an OmniRT ``POST /v1/generate`` request and what is read from its answer:
the portrait and speech as ``data:`` URIs, where the answer's video is, the server's reason
for a refusal, and the video's frames as the avatar's square."""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

import av
import cv2
import httpx
import numpy as np

from headcast.audio.clip import to_pcm16


class UndecodableVideo(ValueError):
    """The answer's video cannot be decoded (the decoder's reason is the text)."""


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def png_bytes(image_rgb: np.ndarray) -> bytes:
    ok, encoded = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("the portrait could not be encoded")
    return encoded.tobytes()


def wav_bytes(samples: np.ndarray, rate_hz: int) -> bytes:
    """Mono 16-bit WAV of float ``samples``."""
    pcm = to_pcm16(samples).astype("<i2", copy=False)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate_hz)
        w.writeframes(pcm.tobytes())
    return out.getvalue()


def video_location(answer: Any) -> str | None:
    """Where the answer's video is: the first output of kind video (or the first output) with
    a ``path`` or ``url``."""
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if not isinstance(outputs, list):
        return None
    items = [o for o in outputs if isinstance(o, dict)]
    items.sort(key=lambda o: o.get("kind", "video") != "video")
    for item in items:
        for key in ("url", "path"):
            value = item.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def refusal_reason(response: httpx.Response) -> str:
    """The server's own one-line reason, where it gave one."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no reason given"
    if isinstance(body, dict):
        error = body.get("error", body.get("detail"))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error:
            return " ".join(str(error).split())[:200]
    return response.reason_phrase or "no reason given"


def video_frames(video: bytes, wanted: int, size_px: int) -> list[np.ndarray]:
    """Up to ``wanted`` RGB frames of ``video``, each the ``size_px`` square; raises
    UndecodableVideo."""
    frames: list[np.ndarray] = []
    try:
        with av.open(io.BytesIO(video), mode="r") as container:
            for frame in container.decode(video=0):
                frames.append(_squared(frame.to_ndarray(format="rgb24"), size_px))
                if len(frames) >= wanted:
                    break
    except (av.FFmpegError, ValueError, IndexError) as exc:
        raise UndecodableVideo(str(exc)) from None
    return frames


def _squared(frame: np.ndarray, size_px: int) -> np.ndarray:
    """The frame as the avatar's square: a taller or wider one is cropped about its centre."""
    h, w = frame.shape[:2]
    if (h, w) == (size_px, size_px):
        return frame
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = frame[top : top + side, left : left + side]
    return cv2.resize(square, (size_px, size_px), interpolation=cv2.INTER_AREA)
