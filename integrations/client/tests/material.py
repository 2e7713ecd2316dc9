"""Real speech and a real portrait from the core's test media, and stream options for them."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np

from headcast_client import LocalServer, StreamOptions

MEDIA = Path(__file__).resolve().parents[3] / "tests" / "media"
PORTRAIT = (MEDIA / "obama.jpg").read_bytes()


def speech(clip: str = "0870", seconds: float | None = None) -> np.ndarray:
    """A real recording, int16 mono at 16 kHz."""
    with wave.open(str(MEDIA / f"librivox-{clip}.wav")) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    return pcm if seconds is None else pcm[: round(seconds * 16000)]


def options(server: LocalServer, **overrides: Any) -> StreamOptions:
    fields: dict[str, Any] = {
        "url": server.url,
        "api_key": server.api_key,
        "portrait": PORTRAIT,
        "size_px": 256,
        "fps": 25,
    }
    return StreamOptions(**{**fields, **overrides})
