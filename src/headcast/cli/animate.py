"""``headcast animate``: a portrait (a photo or an enrolled avatar) speaking an audio file,
rendered to a video."""

from __future__ import annotations

import argparse

from headcast.cli.audio_limit import add_audio_limit_option, max_audio_s
from headcast.cli.render_options import (
    add_portrait_argument,
    add_render_options,
    check_portrait,
    check_render_options,
    render_settings,
)
from headcast.cli.text_arg import read_text_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "animate",
        help="render a portrait speaking an audio file",
        description="Render IMAGE speaking AUDIO into OUT (.mp4: H.264+AAC, .webm: VP9+Opus).",
    )
    add_portrait_argument(p)
    p.add_argument("audio", help="speech (WAV, MP3, OGG/Opus, FLAC, M4A/AAC, WebM)")
    p.add_argument("-o", "--output", required=True, help="output video, .mp4 or .webm")
    p.add_argument(
        "--text",
        help="transcript of the speech for exact lip timing; @FILE reads a file (plain text, "
        "or .srt, .vtt or .stm with speaker turns and times), - reads stdin",
    )
    add_render_options(p)
    add_audio_limit_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from headcast.live.motion_worker import start_worker

    check_render_options(args)
    limit_s = max_audio_s(args)
    # The motion is made in the worker: it starts while the rest loads.
    start_worker()
    from headcast.animate import animate, check_output_path
    from headcast.cli.progress import frame_progress, print_summary
    from headcast.render import EngineInput, EngineKind, check_engine, engine_for

    check_output_path(args.output)
    check_portrait(args.image)
    engine = engine_for(args.image, args.engine)
    capabilities = check_engine(engine, size_px=args.size, fps=args.fps, live=False)
    # A file is drawn from FaceMotion, or by a remote engine from the speech itself.
    if capabilities.kind is not EngineKind.REMOTE:
        check_engine(engine, size_px=args.size, fps=args.fps, live=False, fed=EngineInput.MOTION)
    text = read_text_argument(args.text) if args.text is not None else None
    with frame_progress(args.quiet) as progress:
        result = animate(
            args.image,
            args.audio,
            args.output,
            text=text,
            **render_settings(args),
            max_audio_s=limit_s,
            progress=progress,
        )
    if not args.quiet:
        print_summary(result)
    return 0
