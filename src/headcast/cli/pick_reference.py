"""``headcast pick-reference``: rank candidate portraits and say why."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from headcast.errors import InputError
from headcast.limits import MIN_SIZE_PX

if TYPE_CHECKING:
    from headcast.face.reference_score import ReferenceScore, SkippedPhoto

MAX_TABLE_REASONS = 2  # flaws shown per photo in the table (--json has all of them)
# --best is a photo to render from, which may well be larger than any video rendered from it.
MAX_BEST_SIZE_PX = 2048


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "pick-reference",
        help="rank candidate portrait photos and explain why",
        description=(
            "Rank portrait photos by how well they would animate: face found, resolution, "
            "head pose, eyes open, mouth closed, sharpness, exposure, lighting, occlusion and "
            "framing, each scored in [0, 1]. Exit status 2 when no photo has a usable face."
        ),
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="photos or folders of photos (JPEG, PNG, WebP, HEIC)",
    )
    p.add_argument("--json", action="store_true", help="print the ranking as JSON")
    p.add_argument("--sheet", metavar="OUT.png", help="write a contact sheet of the ranking")
    p.add_argument("--best", metavar="OUT.png", help="write the winner framed for rendering")
    p.add_argument(
        "--size", type=int, default=512, help="side of the --best picture in pixels (default 512)"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from headcast.face.reference_score import WEIGHTS, rank_references
    from headcast.face.reference_sheet import draw_contact_sheet, framed_reference, write_png

    if args.best and not MIN_SIZE_PX <= args.size <= MAX_BEST_SIZE_PX:
        raise InputError(f"--size must be between {MIN_SIZE_PX} and {MAX_BEST_SIZE_PX}")
    for out in (args.sheet, args.best):
        if out and not Path(out).parent.is_dir():
            raise InputError(f"{out}: the folder {Path(out).parent} does not exist")
    ranked, skipped = rank_references(args.paths)
    usable = [r for r in ranked if r.usable]
    if args.json:
        report = {
            "ranked": [r.to_dict() for r in ranked],
            "skipped": [{"path": s.path, "reason": s.reason} for s in skipped],
            "best": usable[0].path if usable else None,
            "weights": WEIGHTS,
        }
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(format_table(ranked, skipped))
    if args.sheet:
        write_png(draw_contact_sheet(ranked, skipped), args.sheet)
    if not usable:
        tried = len(ranked) + len(skipped)
        raise InputError(f"no usable face in any of the {tried} photos given")
    if args.best:
        write_png(framed_reference(usable[0], args.size), args.best)
        if not args.json:
            print(f"wrote {args.best} from {usable[0].path}", file=sys.stderr)
    return 0


def format_table(ranked: Sequence[ReferenceScore], skipped: Sequence[SkippedPhoto]) -> str:
    """rank, score, file and the main reasons, one photo per line; skipped files after."""
    names = [r.path for r in ranked] + [s.path for s in skipped]
    width = min(max([len("photo"), *map(len, names)]), 48)
    lines = [f"{'rank':>4}  {'score':>5}  {'photo':<{width}}  reasons"]
    for r in ranked:
        reasons = "; ".join(reason.split(" (")[0] for reason in r.top_reasons(MAX_TABLE_REASONS))
        lines.append(f"{r.rank:>4}  {r.score:5.2f}  {_fit(r.path, width):<{width}}  {reasons}")
    for s in skipped:
        lines.append(f"{'-':>4}  {'-':>5}  {_fit(s.path, width):<{width}}  skipped: {s.reason}")
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]
