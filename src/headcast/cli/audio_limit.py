"""The limit on the speech of the commands that read it from a file (``animate``, ``lipsync``)."""

from __future__ import annotations

import argparse

from headcast import settings
from headcast.errors import InputError
from headcast.limits import DEFAULT_MAX_AUDIO_S


def add_audio_limit_option(p: argparse.ArgumentParser) -> None:
    """--max-audio-seconds; left at None when not given, for ``max_audio_s`` to resolve."""
    p.add_argument(
        "--max-audio-seconds",
        type=float,
        default=None,
        help=f"refuse longer audio (default {DEFAULT_MAX_AUDIO_S:g}, or "
        "$HEADCAST_MAX_AUDIO_SECONDS)",
    )


def max_audio_s(args: argparse.Namespace) -> float:
    """The limit given on the command line, else the environment's, else the default."""
    if args.max_audio_seconds is None:
        return settings.max_audio_s()
    if not args.max_audio_seconds > 0:
        raise InputError(f"--max-audio-seconds must be positive, got {args.max_audio_seconds:g}")
    return float(args.max_audio_seconds)
