"""``headcast engines``: the rendering engines installed, and what each can do."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from headcast.render import EngineCapabilities


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "engines",
        help="list the rendering engines and what each can do",
        description=(
            "List the rendering engines installed (the built-in ones and those of installed "
            "packages), each with what it is fed, the sizes and frame rates it renders, "
            "whether it renders live and how soon its frames come. A photo is drawn by warp "
            "(the default) and an enrolled avatar by enrolled unless --engine names another."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the engines as JSON")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from headcast.render import DEFAULT_ENGINE, EngineKind, list_engines

    engines = list_engines()
    if args.json:
        listing = {e.name: e.capabilities.as_dict() for e in engines}
        print(json.dumps({"default": DEFAULT_ENGINE, "engines": listing}, indent=2))
        return 0
    rows = [("ENGINE", "KIND", "SIZE PX", "FPS", "LIVE", "LATENCY", "NOTES")]
    for engine in engines:
        c = engine.capabilities
        name = engine.name + (" (default)" if engine.name == DEFAULT_ENGINE else "")
        rows.append(
            (
                name,
                str(c.kind) if c.kind is not EngineKind.REMOTE else f"remote, {c.input}",
                _range(c.min_size_px, c.max_size_px),
                _range(c.min_fps, c.max_fps),
                "yes" if c.live else "no",
                f"{_latency_ms(c):g} ms",
                _notes(c),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        padded = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*padded, row[-1]]).rstrip())
    return 0


def _range(low: float, high: float) -> str:
    return f"{low:g}" if low == high else f"{low:g}–{high:g}"


def _latency_ms(c: EngineCapabilities) -> float:
    """How long the first frame takes once its input is complete."""
    return c.first_frame_latency_ms + c.frame_latency_ms


def _notes(c: EngineCapabilities) -> str:
    notes = []
    if c.audio_rate_hz is not None:
        notes.append(f"hears {c.audio_rate_hz / 1000:g} kHz, {c.audio_lookahead_ms:g} ms ahead")
    if c.description:
        notes.append(c.description)
    return "; ".join(notes)
