"""``headcast lipsync``: speech → a lip-sync track for animators, on stdout or in a file."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from headcast.cli.audio_limit import add_audio_limit_option, max_audio_s
from headcast.cli.text_arg import read_text_argument
from headcast.errors import InputError
from headcast.limits import DEFAULT_FPS

DEFAULT_FORMAT = "rhubarb-tsv"
# Output extensions that name one format; .json is ambiguous and stays Rhubarb's JSON.
_FORMAT_BY_EXTENSION = {
    ".tsv": "rhubarb-tsv", ".txt": "rhubarb-tsv", ".json": "rhubarb-json",
    ".xml": "rhubarb-xml", ".dat": "dat", ".csv": "arkit-csv",
}  # fmt: skip


def register(subparsers: argparse._SubParsersAction) -> None:
    from headcast.motion.export import FORMATS

    formats = "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values())
    p = subparsers.add_parser(
        "lipsync",
        help="mouth cues, visemes or ARKit blendshapes for speech (no video)",
        description=(
            "Analyse the speech in AUDIO and write a lip-sync track: Rhubarb Lip Sync mouth "
            "cues (A-F, G, H, X) as TSV/JSON/XML, Moho/OpenToonz switch data (.dat), Oculus "
            "viseme weights, or ARKit blendshapes (Live Link Face CSV or JSON). Writes to "
            f"stdout unless -o is given. Formats: {formats}."
        ),
    )
    p.add_argument("audio", help="speech (WAV, MP3, OGG/Opus, FLAC, M4A/AAC, WebM)")
    p.add_argument(
        "--text",
        help="transcript of the speech for exact timing; @FILE reads a file (plain text, or "
        ".srt, .vtt or .stm with speaker turns and times), - reads stdin",
    )
    p.add_argument(
        "-f",
        "--format",
        choices=list(FORMATS),
        help=f"output format (default {DEFAULT_FORMAT}, or the one -o's extension names: "
        ".tsv .json .xml .dat .csv)",
    )
    p.add_argument(
        "--fps",
        type=float,
        default=None,
        help=f"frame rate of frame-based formats (dat, oculus-json, arkit-*; default "
        f"{DEFAULT_FPS:g}; Live Link Face records at 60)",
    )
    p.add_argument(
        "--extended-shapes",
        default="GHX",
        metavar="SHAPES",
        help="optional mouth shapes the character has, of G, H and X (default GHX; '' for "
        "the six basic shapes only)",
    )
    p.add_argument(
        "--preston-blair",
        action="store_true",
        help="dat: Preston Blair shape names (MBP, etc, E, AI, O, U, FV, L, rest), as "
        "OpenToonz requires",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="without --text: the faster, less accurate phone recognizer",
    )
    p.add_argument("-o", "--output", help="file to write (default: stdout)")
    p.add_argument(
        "--json",
        action="store_true",
        help="with -o: print a report as JSON (phone source and, with --text, how much of the "
        "speech the transcript aligned, guided or left to free recognition)",
    )
    add_audio_limit_option(p)
    p.set_defaults(run=run)


def _check_output(value: str) -> Path:
    path = Path(value)
    if path.is_dir():
        raise InputError(f"cannot write '{path}': it is a folder")
    if not path.parent.is_dir():
        raise InputError(f"cannot write '{path}': folder '{path.parent}' does not exist")
    return path


def run(args: argparse.Namespace) -> int:
    from headcast.lipsync import lipsync
    from headcast.motion.export import FORMATS, export

    output = _check_output(args.output) if args.output else None
    fmt = args.format or (
        _FORMAT_BY_EXTENSION.get(output.suffix.lower(), DEFAULT_FORMAT)
        if output
        else DEFAULT_FORMAT
    )
    if args.json and output is None:
        raise InputError("--json prints a report beside the track: give the track a file (-o)")
    if args.preston_blair and fmt != "dat":
        raise InputError("--preston-blair applies to the dat format only")
    if args.fps is not None and not FORMATS[fmt].frame_based:
        logging.getLogger(__name__).warning(
            "--fps has no effect on %s: its cues are timed in seconds", fmt
        )
    text = read_text_argument(args.text) if args.text is not None else None
    if text is not None and not text.strip():
        raise InputError("the transcript is empty")
    result = lipsync(
        args.audio,
        text,
        args.fps if args.fps is not None else DEFAULT_FPS,
        extended_shapes=args.extended_shapes,
        fast=args.fast,
        max_audio_s=max_audio_s(args),
    )
    content = export(result, fmt, preston_blair=args.preston_blair)
    if output is None:
        sys.stdout.write(content)
        sys.stdout.flush()
        return 0
    try:
        output.write_text(content, encoding="utf-8", newline="\n")
    except OSError as exc:
        raise InputError(f"cannot write '{output}': {exc.strerror or exc}") from None
    if args.json:
        coverage = result.track.coverage
        report = {
            "output": str(output),
            "format": fmt,
            "duration_s": round(result.duration_s, 3),
            "phones": result.track.source,
            "transcript_coverage": coverage.as_dict() if coverage is not None else None,
        }
        print(json.dumps(report, indent=2))
    return 0
