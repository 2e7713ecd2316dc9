"""Real speech and a real portrait from the repository's samples, as LiveKit audio frames."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
from headcast_client import LocalServer, StreamOptions
from livekit import rtc

SAMPLES = Path(__file__).resolve().parents[3] / "samples"
PORTRAIT_PATH = SAMPLES / "astronaut.png"
PORTRAIT = PORTRAIT_PATH.read_bytes()
SPEECH_PATH = SAMPLES / "speech.wav"
SPEECH_RATE_HZ = 16_000
OUTPUT_RATE_HZ = 24_000


def speech(start_s: float = 0.0, seconds: float | None = None) -> np.ndarray:
    """samples/speech.wav (LibriVox readings), int16 mono at 16 kHz."""
    with wave.open(str(SPEECH_PATH)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.int16)
    first = round(start_s * SPEECH_RATE_HZ)
    last = None if seconds is None else first + round(seconds * SPEECH_RATE_HZ)
    return pcm[first:last]


def as_tts_frames(
    pcm: np.ndarray, rate_hz: int = 48_000, channels: int = 2, frame_ms: int = 20
) -> list[rtc.AudioFrame]:
    """16 kHz speech as a TTS would hand it to LiveKit: ``rate_hz``, ``channels`` (the same
    speech in each), ``frame_ms`` frames. Upsampled by linear interpolation."""
    times = np.arange(round(len(pcm) * rate_hz / SPEECH_RATE_HZ)) / rate_hz
    up = np.interp(times, np.arange(len(pcm)) / SPEECH_RATE_HZ, pcm.astype(np.float64))
    samples = np.repeat(np.round(up).astype(np.int16)[:, None], channels, axis=1)
    step = rate_hz * frame_ms // 1000
    return [
        rtc.AudioFrame(
            samples[i : i + step].tobytes(), rate_hz, channels, len(samples[i : i + step])
        )
        for i in range(0, len(samples), step)
    ]


def resampled(pcm: np.ndarray, rate_hz: int) -> np.ndarray:
    """16 kHz speech at ``rate_hz`` as float, by linear interpolation (for comparisons)."""
    times = np.arange(round(len(pcm) * rate_hz / SPEECH_RATE_HZ)) / rate_hz
    return np.interp(times, np.arange(len(pcm)) / SPEECH_RATE_HZ, pcm.astype(np.float64))


def options(server: LocalServer, **overrides: Any) -> StreamOptions:
    fields: dict[str, Any] = {
        "url": server.url,
        "api_key": server.api_key,
        "portrait": PORTRAIT,
        "size_px": 256,
        "fps": 25,
        "input_sample_rate_hz": OUTPUT_RATE_HZ,
        "output_sample_rate_hz": OUTPUT_RATE_HZ,
    }
    return StreamOptions(**{**fields, **overrides})
