"""The ``headcast`` command line: one module per command, dispatched from here.

Each command module has ``register(subparsers)``, which adds its parser and sets ``run`` to a
function of the parsed arguments returning the exit status. A runner raises ``HeadcastError``
for bad input; it is printed here as one line with exit status 2. A new command is a module
with ``register`` and its entry in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType

from headcast import __version__
from headcast.cli import animate, engines, enrol, lipsync, pick_reference, say, serve, tts
from headcast.errors import HeadcastError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# In the order ``headcast --help`` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    animate,
    say,
    enrol,
    tts,
    lipsync,
    pick_reference,
    engines,
    serve,
)


class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"headcast: {record.levelname.lower()}: {record.getMessage()}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="headcast", description="Give a portrait photo a voice.")
    parser.add_argument("--version", action="version", version=f"headcast {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.register(subparsers)
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
        return EXIT_INTERRUPTED
