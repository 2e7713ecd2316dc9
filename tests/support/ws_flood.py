"""A hostile WebSocket client, run as its own process: floods tiny PCM messages and pings.

``python tests/support/ws_flood.py URL KEY SECONDS [--reconnect]`` sends as fast as it can until the
server closes the connection (or, with ``--reconnect``, until SECONDS are up, connecting again
each time it is cut off), then prints one JSON line: what it sent and how it was stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

PCM = b"\x00\x00"  # one sample
PING = json.dumps({"type": "ping"})
YIELD_EVERY = 64  # messages sent between letting the reader run


async def flood_once(url: str, key: str, until: float, report: dict) -> None:
    errors: list[str] = []

    async def read(ws) -> None:
        try:
            async for message in ws:
                if isinstance(message, str):
                    event = json.loads(message)
                    if event.get("type") == "error":
                        errors.append(event["code"])
        except ConnectionClosed:
            pass

    try:
        async with connect(url, additional_headers={"X-API-Key": key}, max_size=2**24) as ws:
            reader = asyncio.create_task(read(ws))
            sent = 0
            try:
                while time.monotonic() < until:
                    await ws.send(PCM if sent % 2 else PING)
                    sent += 1
                    if sent % YIELD_EVERY == 0:
                        await asyncio.sleep(0)
            except ConnectionClosed:
                pass
            report["messages"] += sent
            await asyncio.wait_for(reader, 5)
            report["close_codes"].append(ws.close_code)
    except (InvalidStatus, OSError, TimeoutError) as exc:
        report["refused"] += 1
        report["refusals"].append(type(exc).__name__)
        await asyncio.sleep(0.05)
        return
    report["connections"] += 1
    report["rate_limited"] += "rate_limited" in errors
    report["error_codes"] = sorted(set(report["error_codes"]) | set(errors))


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("seconds", type=float)
    parser.add_argument("--reconnect", action="store_true")
    args = parser.parse_args()
    report: dict = {"connections": 0, "messages": 0, "rate_limited": 0, "refused": 0,
                    "close_codes": [], "error_codes": [], "refusals": []}  # fmt: skip
    started = time.monotonic()
    until = started + args.seconds
    await flood_once(args.url, args.key, until, report)
    while args.reconnect and time.monotonic() < until:
        await flood_once(args.url, args.key, until, report)
    report["seconds"] = round(time.monotonic() - started, 3)
    report["refusals"] = report["refusals"][:5]
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
