"""--engine-url, --engine-model and --engine-config: where a remote engine's server is, the
model it runs and the engine's own settings, in place of the ``HEADCAST_ENGINE_*`` variables."""

from __future__ import annotations

import argparse
import json
from typing import Any

from headcast.errors import InputError

REMOTE_ENGINE_DEFAULT = "omnirt"  # the engine --engine-url alone points at


def add_engine_endpoint_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--engine-url",
        metavar="URL",
        help="the remote engine's server, e.g. ws://HOST:PORT/v1/avatar/realtime "
        f"(--engine {REMOTE_ENGINE_DEFAULT} unless --engine names another remote engine)",
    )
    p.add_argument("--engine-model", metavar="NAME", help="the model the remote server runs")
    p.add_argument(
        "--engine-config",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="a setting passed to the remote engine as it is (repeatable; JSON values are read "
        "as JSON, e.g. fps=30)",
    )


def use_engine_endpoint(args: argparse.Namespace) -> None:
    """Point the remote engine at the server the options name; InputError for a bad value or
    an engine that is not remote. Nothing is loaded when none is given."""
    if not (args.engine_url or args.engine_model or args.engine_config):
        return
    from headcast.render.capabilities import EngineKind
    from headcast.render.registry import engine_capabilities, use_endpoint
    from headcast.render.remote import RemoteEndpoint

    args.engine = args.engine or REMOTE_ENGINE_DEFAULT
    if engine_capabilities(args.engine).kind is not EngineKind.REMOTE:
        raise InputError(
            f"--engine-url, --engine-model and --engine-config are for remote engines, "
            f"not '{args.engine}'"
        )
    endpoint = RemoteEndpoint.from_settings(
        url=args.engine_url,
        model=args.engine_model,
        config=engine_config(args.engine_config),
    )
    use_endpoint(args.engine, endpoint)


def engine_config(pairs: list[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a dict: a value that reads as JSON is taken as such, else as text."""
    config: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--engine-config takes KEY=VALUE, got '{pair}'")
        try:
            value: Any = json.loads(text)
        except ValueError:
            value = text
        config[key.strip()] = value
    return config
