"""``headcast enrol``: a video of a person becomes an avatar named everywhere a portrait goes.

``headcast enrol VIDEO -o NAME`` analyses the clip once and prints what it got; ``--script``
prints sentences to record, ``--list`` the avatars enrolled, ``--delete NAME`` removes one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from headcast import settings
from headcast.cli.text_arg import read_text_argument
from headcast.errors import InputError
from headcast.limits import MAX_SIZE_PX, MIN_SIZE_PX

if TYPE_CHECKING:
    from headcast.enrol import CoverageReport
    from headcast.enrol.store import EnrolledInfo

DEFAULT_SIZE_PX = 512


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "enrol",
        help="make an avatar of a person from a video of them talking",
        description=(
            "Analyse VIDEO (a minute or more of one person talking to the camera, any common "
            "format, sound optional) once and store it as an avatar: under NAME in the avatar "
            "cache, or in a folder when NAME contains '/'. Give the name (or folder) instead of "
            "a photo to `headcast animate` and `headcast say`. Prints what the clip covers and, "
            "when mouth shapes are missing, sentences to record. A clip with no face, several "
            "faces, a face too small, under 5 s of usable frames or over the length limit is "
            "refused with exit status 2."
        ),
    )
    p.add_argument("video", nargs="?", help="the video to enrol (MP4, MOV, WebM, MKV, ...)")
    p.add_argument("-o", "--output", metavar="NAME", help="the avatar's name, or a folder path")
    p.add_argument(
        "--transcript",
        metavar="TEXT",
        help="what is said in the video, when known (better mouth labels); @FILE reads a file, "
        "- reads stdin",
    )
    p.add_argument(
        "--size",
        type=int,
        default=DEFAULT_SIZE_PX,
        metavar="N",
        help=f"side of the stored frames in pixels, even, {MIN_SIZE_PX}-{MAX_SIZE_PX} "
        f"(default {DEFAULT_SIZE_PX}); render at this size",
    )
    p.add_argument(
        "--max-duration",
        type=float,
        metavar="S",
        help=f"refuse longer videos (default {settings.DEFAULT_MAX_ENROL_S:g} s, or "
        f"${settings.MAX_ENROL_S})",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary line")
    actions = p.add_mutually_exclusive_group()
    actions.add_argument(
        "--script",
        action="store_true",
        help="print sentences that, read in one take, show every mouth shape",
    )
    actions.add_argument("--list", action="store_true", help="list the enrolled avatars")
    actions.add_argument(
        "--delete", metavar="NAME", help="remove an enrolled avatar (name or folder)"
    )
    p.add_argument(
        "--json", action="store_true", help="--list, or the report of an enrolment, as JSON"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    chosen = (("--script", args.script), ("--list", args.list), ("--delete", args.delete))
    action = next((flag for flag, given in chosen if given), None)
    if action is not None:
        stray = [flag for flag, given in (("VIDEO", args.video), ("-o", args.output)) if given]
        if stray:
            raise InputError(f"{action} takes no {' or '.join(stray)}")
        if args.json and action != "--list":
            raise InputError(f"--json applies to --list or to an enrolment, not to {action}")
    if args.script:
        return _print_script()
    if args.list:
        return _print_list(args.json)
    if args.delete:
        return _delete(args.delete)
    if not args.video or not args.output:
        raise InputError("give a VIDEO and -o NAME (or --script, --list, --delete NAME)")
    return _enrol(args)


def _enrol(args: argparse.Namespace) -> int:
    from headcast.cli.progress import frame_progress
    from headcast.enrol import enrol_video
    from headcast.enrol.store import folder_for, looks_enrolled

    max_duration_s = _max_duration_s(args)
    if not MIN_SIZE_PX <= args.size <= MAX_SIZE_PX or args.size % 2:
        raise InputError(
            f"--size must be an even number between {MIN_SIZE_PX} and {MAX_SIZE_PX}, "
            f"got {args.size}"
        )
    folder = folder_for(args.output)
    # Refused before the work rather than after it.
    replacing = folder.exists()
    if replacing and not looks_enrolled(folder):
        raise InputError(f"'{folder}' exists and is not an enrolled avatar: choose another name")
    transcript = read_text_argument(args.transcript) if args.transcript is not None else None
    if transcript is not None and not transcript.strip():
        raise InputError("the transcript is empty")
    created = _first_missing(folder.parent)
    started = time.perf_counter()
    try:
        with frame_progress(args.quiet, "enrolling") as progress:
            result = enrol_video(
                args.video,
                args.output,
                transcript=transcript,
                size_px=args.size,
                max_duration_s=max_duration_s,
                progress=progress,
            )
    except BaseException:
        _remove_empty_folders(folder.parent, created)
        raise
    seconds = time.perf_counter() - started
    if not args.quiet:
        verb = "replaced" if replacing else "enrolled"
        print(f"{verb} '{result.path.name}' in {result.path} ({seconds:.0f} s)", file=sys.stderr)
    if args.json:
        print(json.dumps({"path": str(result.path), "report": result.report.as_dict()}, indent=2))
    else:
        print("\n".join(report_lines(result.report)))
    return 0


def report_lines(report: CoverageReport) -> list[str]:
    """The coverage report, then what to record when something is missing."""
    lines = list(report.lines())
    if report.script:
        lines += [
            "",
            "To fill the gaps, record the person reading these aloud, add it to the video and "
            "enrol again:",
            *(f"  {sentence}" for sentence in report.script),
        ]
    return lines


def _print_script() -> int:
    from headcast.enrol.coverage import full_script

    print("Read these aloud in one take, facing the camera, in steady light:")
    for sentence in full_script():
        print(f"  {sentence}")
    print("Then: headcast enrol VIDEO -o NAME")
    return 0


def _print_list(as_json: bool) -> int:
    from headcast.enrol.store import list_enrolled

    avatars = list_enrolled()
    if as_json:
        listing = [
            {
                "name": a.name,
                "path": str(a.path),
                "source": a.source,
                "created_at": a.created_at,
                "size_bytes": a.size_bytes,
                "report": a.report.as_dict(),
            }
            for a in avatars
        ]
        print(json.dumps(listing, indent=2))
        return 0
    if not avatars:
        print("no enrolled avatars (headcast enrol VIDEO -o NAME makes one)", file=sys.stderr)
        return 0
    print(format_table(avatars))
    return 0


def format_table(avatars: list[EnrolledInfo]) -> str:
    """One avatar a line: name, usable seconds, shapes and visemes covered, size, source."""
    from headcast.enrol.coverage import SHAPE_TESTS, VISEME_SENTENCES

    rows = [("NAME", "USABLE", "SHAPES", "VISEMES", "SIZE", "SOURCE")]
    for a in avatars:
        r = a.report
        rows.append(
            (
                a.name,
                f"{r.usable_s:.1f} s",
                f"{len(r.shapes_covered)}/{len(SHAPE_TESTS)}",
                f"{len(r.visemes_covered)}/{len(VISEME_SENTENCES)}" if r.has_speech else "-",
                f"{a.size_bytes / 1e6:.1f} MB",
                a.source,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
        for row in rows
    )


def _delete(ref: str) -> int:
    from headcast.enrol.store import delete_enrolled

    folder = delete_enrolled(ref)
    print(f"deleted '{folder.name}' ({folder})", file=sys.stderr)
    return 0


def _max_duration_s(args: argparse.Namespace) -> float:
    if args.max_duration is None:
        return settings.max_enrol_s()
    if not args.max_duration > 0:
        raise InputError(f"--max-duration must be positive, got {args.max_duration:g}")
    return float(args.max_duration)


def _first_missing(folder: Path) -> Path | None:
    """The outermost of ``folder`` and its parents that does not exist yet, if any."""
    missing = None
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            break
        missing = candidate
    return missing


def _remove_empty_folders(folder: Path, up_to: Path | None) -> None:
    """Remove ``folder`` and its parents up to ``up_to``, those an enrolment that failed made
    and left empty."""
    if up_to is None:
        return
    for candidate in (folder, *folder.parents):
        try:
            candidate.rmdir()
        except OSError:
            return
        if candidate == up_to:
            return
