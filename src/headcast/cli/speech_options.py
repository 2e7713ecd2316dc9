"""The options of the commands that speak text (``say``, ``tts``) and the checks they share."""

from __future__ import annotations

import argparse
from pathlib import Path

from headcast import settings
from headcast.errors import InputError


def add_speech_options(p: argparse.ArgumentParser) -> None:
    """--voice, --rate, --pitch, --tts and --max-chars."""
    p.add_argument(
        "--voice",
        help="voice: a language code of the built-in voice (en-us, de, fr-fr, es; +f3 for a "
        "variant) or a server's voice name (default: en-us, or the server's default)",
    )
    p.add_argument("--rate", type=float, metavar="WPM", help="words per minute (default 175)")
    p.add_argument("--pitch", type=float, metavar="0-99", help="voice pitch (default 50)")
    p.add_argument(
        "--tts",
        default=None,
        metavar="builtin|URL",
        help="speech backend: builtin, or a TTS server URL: http://host:port for an "
        "OpenAI-style /v1/audio/speech server, a URL with {text} (and {voice}) for a GET "
        "endpoint, json:URL or form:URL to POST text and voice (default: $HEADCAST_TTS or "
        "builtin; an API key is read from $HEADCAST_TTS_API_KEY)",
    )
    p.add_argument(
        "--max-chars",
        type=int,
        default=None,
        help="refuse longer text (default 5000, or $HEADCAST_MAX_TEXT_CHARS)",
    )


def synthesis_options(args: argparse.Namespace) -> dict:
    """The arguments of ``synthesize`` that ``add_speech_options`` adds to a command."""
    return {
        "voice": args.voice,
        "rate_wpm": args.rate,
        "pitch": args.pitch,
        "backend": args.tts if args.tts is not None else settings.tts_backend(),
        "max_chars": args.max_chars,
    }


def check_output(value: str, suffixes: tuple[str, ...]) -> Path:
    """The path to write, if its folder exists and its extension is one of ``suffixes``."""
    path = Path(value)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"cannot write '{path}': use a {' or '.join(suffixes)} file")
    if not path.parent.is_dir():
        raise InputError(f"cannot write '{path}': folder '{path.parent}' does not exist")
    if path.is_dir():
        raise InputError(f"cannot write '{path}': it is a folder")
    return path
