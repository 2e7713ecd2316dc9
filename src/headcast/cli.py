"""The ``headcast`` command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from headcast import __version__
from headcast.errors import HeadcastError
from headcast.render_command import add_render_options
from headcast.text_arg import read_text_argument

EXIT_USAGE = 2


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"headcast: {record.levelname.lower()}: {record.getMessage()}"


def _cmd_animate(args: argparse.Namespace) -> int:
    from headcast.phones.worker import start_worker

    # The speech's phones are decoded in the worker: it starts while the rest loads.
    start_worker()
    from headcast.animate import animate, check_output_path
    from headcast.render_command import frame_progress, print_summary

    check_output_path(args.output)
    text = read_text_argument(args.text) if args.text is not None else None
    with frame_progress(args.quiet) as progress:
        result = animate(
            args.image,
            args.audio,
            args.output,
            text=text,
            fps=args.fps,
            size=args.size,
            engine=args.engine,
            head_motion=not args.no_head_motion,
            correct_gaze=args.correct_gaze,
            seed=args.seed,
            max_audio_s=args.max_audio_seconds,
            progress=progress,
        )
    if not args.quiet:
        print_summary(result)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headcast", description="Give a portrait photo a voice.")
    parser.add_argument("--version", action="version", version=f"headcast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "animate",
        help="render a portrait speaking an audio file",
        description="Render IMAGE speaking AUDIO into OUT (.mp4: H.264+AAC, .webm: VP9+Opus).",
    )
    p.add_argument("image", help="portrait photo (JPEG, PNG, WebP, ...)")
    p.add_argument("audio", help="speech (WAV, MP3, OGG/Opus, FLAC, M4A/AAC, WebM)")
    p.add_argument("-o", "--output", required=True, help="output video, .mp4 or .webm")
    p.add_argument(
        "--text",
        help="transcript of the speech for exact lip timing; @FILE reads a file, - reads stdin",
    )
    add_render_options(p)
    p.add_argument(
        "--max-audio-seconds",
        type=float,
        default=float(os.environ.get("HEADCAST_MAX_AUDIO_SECONDS", 600)),
        help="refuse longer audio (default 600, or $HEADCAST_MAX_AUDIO_SECONDS)",
    )
    p.set_defaults(run=_cmd_animate)

    from headcast.lipsync_cli import add_parser as add_lipsync
    from headcast.pick_reference_cli import add_parser as add_pick_reference
    from headcast.serve_cli import add_parser as add_serve
    from headcast.speech_cli import add_parser as add_speech

    add_lipsync(sub)
    add_speech(sub)
    add_pick_reference(sub)
    add_serve(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter())
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    try:
        return int(args.run(args))
    except HeadcastError as exc:
        print(f"headcast: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("headcast: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
