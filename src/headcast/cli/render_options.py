"""The options every command that renders a video takes, and their checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from headcast.errors import InputError
from headcast.limits import (
    DEFAULT_FPS,
    DEFAULT_SIZE_PX,
    MAX_SIZE_PX,
    MIN_SIZE_PX,
    fps_error,
)


def add_portrait_argument(p: argparse.ArgumentParser) -> None:
    """The IMAGE positional: a photo, or an enrolled avatar's name or folder."""
    p.add_argument(
        "image",
        help="portrait photo (JPEG, PNG, WebP, ...), or an enrolled avatar's name or folder "
        "(headcast enrol)",
    )


def check_portrait(image: str) -> None:
    """InputError for an IMAGE that is neither a file nor an enrolled avatar, before any work."""
    from headcast.enrol.portrait import is_enrolled

    if Path(image).exists() or is_enrolled(image):
        return
    problem = f"{image}: no such file"
    if "/" not in image:
        problem += ", and no enrolled avatar of that name (headcast enrol --list)"
    raise InputError(problem)


def add_render_options(p: argparse.ArgumentParser) -> None:
    """--fps, --size, --engine, --no-head-motion, --correct-gaze, --seed and --quiet."""
    p.add_argument(
        "--fps",
        type=float,
        default=DEFAULT_FPS,
        help=f"frames per second (default {DEFAULT_FPS:g})",
    )
    p.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE_PX,
        help=f"output width and height in pixels, {MIN_SIZE_PX}-{MAX_SIZE_PX} "
        f"(default {DEFAULT_SIZE_PX})",
    )
    p.add_argument(
        "--engine",
        default=None,
        help="rendering engine (default: the portrait's own: warp for a photo, enrolled for an "
        "enrolled avatar; `headcast engines` lists them)",
    )
    p.add_argument("--no-head-motion", action="store_true", help="keep the head still")
    p.add_argument(
        "--correct-gaze",
        action="store_true",
        help="re-aim the eyes at the camera when the photo looks away",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for blinks and head motion")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def check_render_options(args: argparse.Namespace) -> None:
    """InputError for a frame rate or size outside what every front end accepts (limits.py),
    before anything is loaded."""
    error = fps_error(args.fps)
    if error:
        raise InputError(error)
    if not MIN_SIZE_PX <= args.size <= MAX_SIZE_PX:
        raise InputError(f"size must be between {MIN_SIZE_PX} and {MAX_SIZE_PX}, got {args.size}")


def render_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``animate`` that the render options set."""
    return {
        "fps": args.fps,
        "size": args.size,
        "engine": args.engine,
        "head_motion": not args.no_head_motion,
        "correct_gaze": args.correct_gaze,
        "seed": args.seed,
    }
