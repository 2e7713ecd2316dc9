"""Accepting speech uploads: decoded at submit time, so a bad file is a 4xx, not a failed job."""

from __future__ import annotations

from headcast.animate import OUTPUT_AUDIO_RATE_HZ
from headcast.audio.decode import SilenceMeter, stream_audio
from headcast.errors import InputError
from headcast.server.config import ServerConfig


def check_audio(data: bytes, field: str, config: ServerConfig) -> float:
    """The upload's duration in seconds; InputError (422) naming ``field`` when it is not
    audio, is damaged, is longer than ``max_audio_s`` or holds no sound.

    Decoded a chunk at a time at the video's audio rate and let go: a long upload costs no
    more memory than a short one (the render reads the upload again as it needs it).
    """
    meter = SilenceMeter(OUTPUT_AUDIO_RATE_HZ)
    samples = 0
    try:
        for chunk in stream_audio(
            data, sample_rate=OUTPUT_AUDIO_RATE_HZ, max_duration_s=config.max_audio_s
        ):
            meter.add(chunk)
            samples += len(chunk)
    except InputError as exc:
        raise InputError(f"{field}: {_without_source(str(exc))}") from None
    if meter.silent:
        raise InputError(f"{field}: the audio is silent; there is no speech to animate")
    return samples / OUTPUT_AUDIO_RATE_HZ


def _without_source(message: str) -> str:
    """load_audio names bytes as 'the audio data (N bytes)'; the field name says it better."""
    prefix = "the audio data ("
    if message.startswith(prefix) and ") " in message:
        return "the upload " + message.split(") ", 1)[1]
    return message
