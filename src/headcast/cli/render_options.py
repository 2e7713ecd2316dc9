"""The options every command that renders a video takes, and their checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from headcast.cli.engine_options import add_engine_endpoint_options, use_engine_endpoint
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
    """--fps, --size, --engine, --head-motion, --correct-gaze, --seed and --quiet."""
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
    # Read as text and checked with the other options: a bad value is one line, not a usage.
    p.add_argument(
        "--head-motion",
        metavar="0..1",
        default=None,
        help="how much the head moves: 0 holds it still, 1 is the liveliest; the default "
        "moves it like a typical speaker talking to camera",
    )
    p.add_argument(
        "--no-head-motion",
        dest="head_motion",
        action="store_const",
        const="0",
        help="keep the head still (--head-motion 0)",
    )
    p.add_argument(
        "--correct-gaze",
        action="store_true",
        help="re-aim the eyes at the camera when the photo looks away",
    )
    p.add_argument("--seed", type=int, default=0, help="seed for blinks and head motion")
    add_engine_endpoint_options(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")


def check_render_options(args: argparse.Namespace) -> None:
    """InputError for a frame rate or size outside what every front end accepts (limits.py),
    or a head motion outside 0..1, before anything is loaded."""
    error = fps_error(args.fps)
    if error:
        raise InputError(error)
    if not MIN_SIZE_PX <= args.size <= MAX_SIZE_PX:
        raise InputError(f"size must be between {MIN_SIZE_PX} and {MAX_SIZE_PX}, got {args.size}")
    if args.head_motion is not None:
        _head_motion(args.head_motion)
    use_engine_endpoint(args)


def _head_motion(text: str) -> float:
    """--head-motion's value as an intensity; InputError for anything but a number in 0..1."""
    from headcast.motion.head_intensity import head_motion_intensity

    try:
        value: object = float(text)
    except ValueError:
        value = text
    try:
        return head_motion_intensity(value, "--head-motion")
    except ValueError as exc:
        raise InputError(str(exc)) from None


def render_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``animate`` that the render options set (checked by
    ``check_render_options``)."""
    settings: dict[str, Any] = {
        "fps": args.fps,
        "size": args.size,
        "engine": args.engine,
        "correct_gaze": args.correct_gaze,
        "seed": args.seed,
    }
    if args.head_motion is not None:
        settings["head_motion"] = _head_motion(args.head_motion)
    return settings
