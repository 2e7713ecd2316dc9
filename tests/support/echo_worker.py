"""Workers for the tests of ``headcast.live.worker_process``, importable in a fresh
interpreter started in the repository's root."""

from __future__ import annotations

from headcast.live.worker_process import MessageChannel


def echo(channel: MessageChannel) -> None:
    """Sends every message back until the channel closes."""
    while True:
        try:
            message = channel.receive()
        except EOFError:
            return
        channel.send(message)


def exit_at_once(channel: MessageChannel) -> None:
    raise SystemExit(3)
