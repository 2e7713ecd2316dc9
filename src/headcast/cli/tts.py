"""``headcast tts``: text spoken into a WAV file, with its phone and word timings if asked."""

from __future__ import annotations

import argparse
import json
import sys
import wave
from pathlib import Path

from headcast.cli.speech_options import add_speech_options, check_output, synthesis_options
from headcast.cli.text_arg import read_text_argument
from headcast.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "tts",
        help="speak text into a WAV file (built-in voice or a TTS server)",
        description=(
            "Speak TEXT into a WAV file with the built-in voice (eSpeak NG, 100+ languages) "
            "or a TTS server. TEXT '-' reads stdin, '@FILE' reads a file."
        ),
    )
    p.add_argument("text", nargs="?", metavar="TEXT", help="what to say; - or @FILE")
    p.add_argument("-o", "--output", metavar="OUT.wav", help="WAV file to write")
    add_speech_options(p)
    p.add_argument(
        "--timings",
        metavar="OUT.json",
        help="also write the phone and word timings as JSON",
    )
    p.add_argument("--list-voices", action="store_true", help="list the built-in voices and exit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

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
    out = check_output(args.output, (".wav",))
    if args.timings:
        check_output(args.timings, (".json",))
    pieces = synthesize_stream(read_text_argument(args.text), **synthesis_options(args))
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
