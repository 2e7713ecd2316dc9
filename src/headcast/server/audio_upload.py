"""Accepting speech uploads: decoded at submit time, so a bad file is a 4xx, not a failed job."""

from __future__ import annotations

from headcast.animate import OUTPUT_AUDIO_RATE_HZ
from headcast.audio import Audio, is_silent, load_audio
from headcast.errors import InputError
from headcast.server.config import ServerConfig


def check_audio(data: bytes, field: str, config: ServerConfig) -> Audio:
    """The upload decoded at the video's audio rate; InputError (422) naming ``field`` when it
    is not audio, is damaged, is longer than ``max_audio_s`` or holds no sound."""
    try:
        audio = load_audio(
            data, sample_rate=OUTPUT_AUDIO_RATE_HZ, max_duration_s=config.max_audio_s
        )
    except InputError as exc:
        raise InputError(f"{field}: {_without_source(str(exc))}") from None
    if is_silent(audio):
        raise InputError(f"{field}: the audio is silent; there is no speech to animate")
    return audio


def _without_source(message: str) -> str:
    """load_audio names bytes as 'the audio data (N bytes)'; the field name says it better."""
    prefix = "the audio data ("
    if message.startswith(prefix) and ") " in message:
        return "the upload " + message.split(") ", 1)[1]
    return message
