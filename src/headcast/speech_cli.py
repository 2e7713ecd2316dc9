"""``headcast tts`` (text → WAV) and ``headcast say`` (portrait + text → talking-head video).

The main CLI registers both with ``add_parser(subparsers)``; runners return the exit status
and raise ``HeadcastError`` for the main CLI to print as one line (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import wave
from pathlib import Path

import numpy as np

from headcast.errors import InputError
from headcast.render_command import add_render_options
from headcast.text_arg import read_text_argument

TTS_ENV = "HEADCAST_TTS"  # default for --tts: "builtin" or a server URL
EXIT_USAGE = 2


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``tts`` and ``say`` on the main CLI's subparsers."""
    tts = subparsers.add_parser(
        "tts",
        help="speak text into a WAV file (built-in voice or a TTS server)",
        description=(
            "Speak TEXT into a WAV file with the built-in voice (eSpeak NG, 100+ languages) "
            "or a TTS server. TEXT '-' reads stdin, '@FILE' reads a file."
        ),
    )
    tts.add_argument("text", nargs="?", metavar="TEXT", help="what to say; - or @FILE")
    tts.add_argument("-o", "--output", metavar="OUT.wav", help="WAV file to write")
    _speech_options(tts)
    tts.add_argument(
        "--timings",
        metavar="OUT.json",
        help="also write the phone and word timings as JSON",
    )
    tts.add_argument("--list-voices", action="store_true", help="list the built-in voices and exit")
    tts.set_defaults(run=run_tts)

    say = subparsers.add_parser(
        "say",
        help="render a portrait speaking text",
        description=(
            "Render IMAGE saying TEXT into OUT (.mp4: H.264+AAC, .webm: VP9+Opus). With the "
            "built-in voice the lips follow the synthesizer's exact phone timing. TEXT '-' "
            "reads stdin, '@FILE' reads a file."
        ),
    )
    say.add_argument("image", help="portrait photo (JPEG, PNG, WebP, ...)")
    say.add_argument("text", metavar="TEXT", help="what to say; - or @FILE")
    say.add_argument("-o", "--output", required=True, help="output video, .mp4 or .webm")
    _speech_options(say)
    add_render_options(say)
    say.set_defaults(run=run_say)


def _synthesis_options(args: argparse.Namespace) -> dict:
    """The arguments of ``synthesize`` that ``_speech_options`` adds to a command."""
    return {
        "voice": args.voice,
        "rate_wpm": args.rate,
        "pitch": args.pitch,
        "backend": args.tts,
        "max_chars": args.max_chars,
    }


def _speech_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--voice",
        help="voice: a language code of the built-in voice (en-us, de, fr-fr, es; +f3 for a "
        "variant) or a server's voice name (default: en-us, or the server's default)",
    )
    p.add_argument("--rate", type=float, metavar="WPM", help="words per minute (default 175)")
    p.add_argument("--pitch", type=float, metavar="0-99", help="voice pitch (default 50)")
    p.add_argument(
        "--tts",
        default=os.environ.get(TTS_ENV) or "builtin",
        metavar="builtin|URL",
        help="speech backend: builtin, or a TTS server URL: http://host:port for an "
        "OpenAI-style /v1/audio/speech server, a URL with {text} (and {voice}) for a GET "
        "endpoint, json:URL or form:URL to POST text and voice (default: $HEADCAST_TTS or "
        "builtin; an API key is read from $HEADCAST_TTS_API_KEY)",
    )
    p.add_argument(
        "--max-chars",
        type=int,
        default=None,
        help="refuse longer text (default 5000, or $HEADCAST_MAX_TEXT_CHARS)",
    )


def run_tts(args: argparse.Namespace) -> int:
    from headcast.speech import list_voices, synthesize_stream

    if args.list_voices:
        for voice in list_voices():
            others = ", ".join(lang for lang in voice.languages[1:])
            extra = f"  (also {others})" if others else ""
            print(f"{voice.language:<24} {voice.name}{extra}")
        print(
            "variants: add +NAME to a voice for another speaker, e.g. en-us+f3, de+m2",
            file=sys.stderr,
        )
        return 0
    if args.text is None:
        raise InputError("give the TEXT to say (or --list-voices)")
    if not args.output:
        raise InputError("give the WAV file to write with -o OUT.wav")
    out = _check_output(args.output, (".wav",))
    if args.timings:
        _check_output(args.timings, (".json",))
    pieces = synthesize_stream(read_text_argument(args.text), **_synthesis_options(args))
    phones: list[dict] = []
    words: list[dict] = []
    offset_s = 0.0
    writer: wave.Wave_write | None = None
    try:
        for speech in pieces:  # one sentence at a time: memory stays flat
            if writer is None:
                writer = wave.open(str(out), "wb")  # noqa: SIM115 (rate known only now)
                writer.setnchannels(1)
                writer.setsampwidth(2)
                writer.setframerate(speech.audio.sample_rate)
            pcm = np.clip(speech.audio.samples, -1.0, 1.0) * 32767.0
            writer.writeframes(np.round(pcm).astype("<i2").tobytes())
            if args.timings:
                phones.extend(
                    {"label": p.label, "start": round(offset_s + p.start_s, 4),
                     "end": round(offset_s + p.end_s, 4)}
                    for p in speech.phones.phones
                )  # fmt: skip
                words.extend(
                    {"word": w.word, "start": round(offset_s + w.start_s, 4),
                     "end": round(offset_s + w.end_s, 4)}
                    for w in speech.words
                )  # fmt: skip
            offset_s += speech.duration_s
    except BaseException:
        if writer is not None:
            writer.close()
            out.unlink(missing_ok=True)
        raise
    if writer is not None:
        writer.close()
    if args.timings:
        Path(args.timings).write_text(
            json.dumps({"duration": round(offset_s, 4), "phones": phones, "words": words})
        )
    print(f"wrote {out} ({offset_s:.2f} s of speech)", file=sys.stderr)
    return 0


def run_say(args: argparse.Namespace) -> int:
    from headcast.animate import animate, check_output_path
    from headcast.render_command import frame_progress, print_summary
    from headcast.speech import synthesize

    check_output_path(args.output)
    speech = synthesize(read_text_argument(args.text), **_synthesis_options(args))
    with frame_progress(args.quiet) as progress:
        result = animate(
            args.image,
            speech.audio,
            args.output,
            phones=speech.phones,
            fps=args.fps,
            size=args.size,
            engine=args.engine,
            head_motion=not args.no_head_motion,
            correct_gaze=args.correct_gaze,
            seed=args.seed,
            progress=progress,
        )
    if not args.quiet:
        print_summary(result)
    return 0


def _check_output(value: str, suffixes: tuple[str, ...]) -> Path:
    path = Path(value)
    if path.suffix.lower() not in suffixes:
        raise InputError(f"cannot write '{path}': use a {' or '.join(suffixes)} file")
    if not path.parent.is_dir():
        raise InputError(f"cannot write '{path}': folder '{path.parent}' does not exist")
    if path.is_dir():
        raise InputError(f"cannot write '{path}': it is a folder")
    return path
