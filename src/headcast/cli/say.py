"""``headcast say``: a portrait (a photo or an enrolled avatar) speaking text, rendered to a
video.

With the built-in voice the lips follow the synthesizer's own phone timing.
"""

from __future__ import annotations

import argparse

from headcast.cli.render_options import (
    add_portrait_argument,
    add_render_options,
    check_portrait,
    check_render_options,
    render_settings,
)
from headcast.cli.speech_options import add_speech_options, synthesis_options
from headcast.cli.text_arg import read_text_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "say",
        help="render a portrait speaking text",
        description=(
            "Render IMAGE saying TEXT into OUT (.mp4: H.264+AAC, .webm: VP9+Opus). With the "
            "built-in voice the lips follow the synthesizer's exact phone timing. TEXT '-' "
            "reads stdin, '@FILE' reads a file."
        ),
    )
    add_portrait_argument(p)
    p.add_argument("text", metavar="TEXT", help="what to say; - or @FILE")
    p.add_argument("-o", "--output", required=True, help="output video, .mp4 or .webm")
    add_speech_options(p)
    add_render_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from headcast.animate import animate, check_output_path
    from headcast.cli.progress import frame_progress, print_summary
    from headcast.speech import synthesize

    check_render_options(args)
    check_output_path(args.output)
    check_portrait(args.image)
    speech = synthesize(read_text_argument(args.text), **synthesis_options(args))
    with frame_progress(args.quiet) as progress:
        result = animate(
            args.image,
            speech.audio,
            args.output,
            phones=speech.phones,
            **render_settings(args),
            progress=progress,
        )
    if not args.quiet:
        print_summary(result)
    return 0
