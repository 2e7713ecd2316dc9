"""Hostile live clients against a real server: unbounded audio backlogs, message floods from
another process, one key taking every session, and numbers JSON cannot hold."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from headcast.server.state import app_state
from tests.conftest import portrait_b64
from tests.support.servers import server_fixture
from tests.support.waiting import until

SIZE = 128
RATE_HZ = 16_000
BACKLOG_S = 2.0
CHUNK_SAMPLES = 1600  # 100 ms pushes
FLOODER = Path(__file__).parent / "support" / "ws_flood.py"
STREAM_FIELDS = ("size", "seed", "sample_rate", "fps", "jpeg_quality", "output_sample_rate")
OMNIRT_FIELDS = ("fps", "sample_rate", "width", "height", "chunk_samples", "seed")
NOT_FINITE = ("NaN", "Infinity", "-Infinity", "1e400", "-1e400")
SCENARIO_TIMEOUT_S = 60.0


def _run(scenario):
    """Run a client scenario, never for longer than ``SCENARIO_TIMEOUT_S``."""
    return asyncio.run(asyncio.wait_for(scenario, SCENARIO_TIMEOUT_S))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def _start(**fields) -> str:
    return json.dumps({"type": "start", "image_b64": portrait_b64(), "size": SIZE, **fields})


def _tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    return (8000 * np.sin(2 * np.pi * 220 * t)).astype("<i2")


class Inbox:
    """Everything a client got: frames counted, JSON events kept in order."""

    def __init__(self) -> None:
        self.frames = 0
        self.events: list[dict] = []

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("type") == kind]

    def errors(self, code: str) -> list[dict]:
        return [e for e in self.of("error") if e.get("code") == code]

    async def collect(self, ws) -> None:
        try:
            async for message in ws:
                if isinstance(message, str):
                    self.events.append(json.loads(message))
                else:
                    self.frames += 1
        except ConnectionClosed:
            pass


async def _ping(ws, inbox: Inbox, timeout_s: float = 10.0) -> None:
    """A pong for a ping sent now: everything sent before it has been handled."""
    pongs = len(inbox.of("pong"))
    await ws.send(json.dumps({"type": "ping"}))
    await until(lambda: len(inbox.of("pong")) > pongs, timeout_s)


# -- finding 4: the audio backlog ---------------------------------------------------------


backlog_server = server_fixture(
    max_live_backlog_s=BACKLOG_S,
    # Far above what the test sends: only the backlog may refuse it.
    ws_messages_per_s=1e6,
    ws_bytes_per_s=1e10,
)


def test_stream_backlog_refuses_audio_beyond_the_limit(backlog_server):
    server = backlog_server
    pushed_s = 300.0  # five minutes of speech, as fast as the socket takes it
    pcm = _tone(pushed_s)

    async def scenario() -> None:
        inbox = Inbox()
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as ws:
            await ws.send(_start())
            assert json.loads(await ws.recv())["type"] == "started"
            reader = asyncio.create_task(inbox.collect(ws))
            # One turn first: the recognizer loads on first speech, not per push.
            await ws.send(pcm[:RATE_HZ].tobytes())
            await ws.send(json.dumps({"type": "end_segment"}))
            await until(lambda: inbox.of("segment_finished"))
            (pid,) = app_state(server.app).live_sessions.pool.process_ids()
            rss_before = _rss_mb(pid)
            for start in range(0, len(pcm), CHUNK_SAMPLES):
                await ws.send(pcm[start : start + CHUNK_SAMPLES].tobytes())
            await _ping(ws, inbox, timeout_s=30)
            refused = inbox.errors("backlog_full")
            await asyncio.sleep(1.0)  # the session process has taken what it was given
            rss_growth = _rss_mb(pid) - rss_before

            await ws.send(json.dumps({"type": "interrupt"}))  # empties the backlog...
            for start in range(0, int(1.5 * RATE_HZ), CHUNK_SAMPLES):  # ...so this fits
                await ws.send(pcm[start : start + CHUNK_SAMPLES].tobytes())
            await _ping(ws, inbox)
            refused_after_interrupt = len(inbox.errors("backlog_full")) - len(refused)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)

        chunks = len(pcm) // CHUNK_SAMPLES
        accepted = chunks - len(refused)
        assert refused, "no push was refused"
        assert accepted * CHUNK_SAMPLES / RATE_HZ <= BACKLOG_S + 0.5, accepted
        first = refused[0]["message"]
        assert "queued" in first and f"limit of {BACKLOG_S:g} s" in first, first
        # Five minutes of speech analysed and queued would be tens of MB.
        assert rss_growth < 5, f"the session process grew {rss_growth:.1f} MB"
        assert refused_after_interrupt == 0
        assert inbox.of("closed")

    _run(scenario())


def test_live_audio_route_answers_429_when_the_backlog_is_full(backlog_server):
    server = backlog_server
    second = _tone(1.0).tobytes()

    async def scenario() -> list[httpx.Response]:
        inbox = Inbox()
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as ws:
            await ws.send(_start())
            session_id = json.loads(await ws.recv())["session_id"]
            reader = asyncio.create_task(inbox.collect(ws))
            url = f"{server.base_url}/v1/live/{session_id}/audio?sample_rate={RATE_HZ}&end=false"
            async with httpx.AsyncClient(timeout=10) as client:
                answers = [await client.post(url, content=second) for _ in range(6)]
                interrupted = await client.post(f"{server.base_url}/v1/live/{session_id}/interrupt")
                assert interrupted.status_code == 204
                answers.append(await client.post(url, content=second))
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
        return answers

    answers = _run(scenario())
    codes = [a.status_code for a in answers]
    assert codes[0] == 200 and 429 in codes[:6], codes
    assert codes[-1] == 200, "an interrupt empties the backlog"
    full = next(a for a in answers if a.status_code == 429)
    assert full.json()["error"]["code"] == "backlog_full"
    assert int(full.headers["Retry-After"]) >= 1
    assert f"limit of {BACKLOG_S:g} s" in full.json()["error"]["message"]


def test_omnirt_chunk_beyond_the_backlog_is_refused_and_the_connection_kept(backlog_server):
    server = backlog_server
    chunk = int(3 * RATE_HZ)  # one chunk longer than the whole backlog

    async def scenario() -> Inbox:
        inbox = Inbox()
        async with connect(server.ws_url + "/v1/avatar/realtime", max_size=2**24) as ws:
            create = {"type": "session.create", "inputs": {"image_b64": portrait_b64()},
                      "config": {"width": SIZE, "height": SIZE, "chunk_samples": chunk}}  # fmt: skip
            await ws.send(json.dumps(create))
            reader = asyncio.create_task(inbox.collect(ws))
            await until(lambda: inbox.of("session.created") or inbox.of("error"))
            await ws.send(b"AUDI" + _tone(3.0).tobytes())
            await _ping(ws, inbox)
            await ws.send(json.dumps({"type": "session.close"}))
            await until(lambda: inbox.of("session.closed"))
            await ws.close()
            await reader
        return inbox

    inbox = _run(scenario())
    assert inbox.of("session.created"), inbox.events
    assert [e["code"] for e in inbox.of("error")] == ["backlog_full"], inbox.events
    assert inbox.frames == 0


# -- finding 5: floods and per-key quotas ----------------------------------------------------


two_keys_server = server_fixture(
    api_keys=("victim-key", "flood-key"),
    max_live_sessions=2,  # one a key
)


def test_a_flooding_connection_is_cut_off_and_another_key_keeps_streaming(two_keys_server):
    server = two_keys_server
    flood_s = 4.0

    async def scenario() -> tuple[dict, Inbox, int, int]:
        inbox = Inbox()
        headers = {"X-API-Key": "victim-key"}
        async with connect(
            server.ws_url + "/v1/stream", additional_headers=headers, max_size=2**24
        ) as ws:
            await ws.send(_start())
            json.loads(await ws.recv())
            reader = asyncio.create_task(inbox.collect(ws))
            await until(lambda: inbox.frames >= 5)
            flooder = await asyncio.create_subprocess_exec(
                sys.executable, str(FLOODER), server.ws_url + "/v1/stream", "flood-key",
                str(flood_s), stdout=subprocess.PIPE,
            )  # fmt: skip
            out, _ = await asyncio.wait_for(flooder.communicate(), flood_s + 20)
            frames_at_flood_end = inbox.frames
            await until(lambda: inbox.frames >= frames_at_flood_end + 10)
            await _ping(ws, inbox)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
            return json.loads(out), inbox, frames_at_flood_end, flooder.returncode

    report, inbox, _, returncode = _run(scenario())
    assert returncode == 0
    assert report["rate_limited"] == 1 and report["close_codes"] == [1008], report
    # Cut off within its burst allowance, not after seconds of flooding.
    assert report["seconds"] < 3.0, report
    assert not inbox.of("error"), inbox.events
    assert inbox.of("closed")


def test_one_key_cannot_take_every_live_session(two_keys_server):
    server = two_keys_server

    async def open_session(key: str) -> tuple[dict, object]:
        ws = await connect(
            server.ws_url + "/v1/stream", additional_headers={"X-API-Key": key}, max_size=2**24
        )
        await ws.send(_start())
        while True:
            reply = json.loads(await ws.recv())
            if reply["type"] in ("started", "error"):
                return reply, ws

    async def scenario() -> list[dict]:
        replies, sockets = [], []
        try:
            for key in ("flood-key", "flood-key", "victim-key"):
                reply, ws = await open_session(key)
                replies.append(reply)
                sockets.append(ws)
        finally:
            for ws in sockets:
                await asyncio.wait_for(_close(ws), 10)
        return replies

    async def _close(ws) -> None:
        await ws.send(json.dumps({"type": "close"}))
        async for message in ws:  # frames on their way, then the server's close
            if isinstance(message, str) and json.loads(message)["type"] in ("closed", "error"):
                break
        await ws.close()

    first, second, other = _run(scenario())
    assert first["type"] == "started"
    assert second["type"] == "error" and second["code"] == "too_many_sessions", second
    assert "limit of 1 live sessions" in second["message"]
    assert other["type"] == "started", "the other key still has its share"


# -- finding 6: numbers that are not numbers -------------------------------------------------


plain_server = server_fixture()


def _with_literal(message: dict, path: tuple[str, ...], literal: str) -> str:
    """``message`` as JSON with the field at ``path`` set to ``literal`` verbatim."""
    marker = "__NUMBER__"
    target = message
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = marker
    return json.dumps(message).replace(f'"{marker}"', literal)


async def _each_refused(url: str, messages: list[str]) -> list[dict]:
    """Each message answered on one connection; a ping after each must still be answered."""
    inbox = Inbox()
    async with connect(url, max_size=2**24) as ws:
        reader = asyncio.create_task(inbox.collect(ws))
        for message in messages:
            errors = len(inbox.of("error"))
            await ws.send(message)
            await _ping(ws, inbox)
            assert len(inbox.of("error")) == errors + 1, (message, inbox.events[-3:])
        await ws.close()
        await reader
    return inbox.of("error")


def test_stream_start_refuses_non_finite_numbers_and_keeps_the_connection(plain_server):
    messages = [
        _with_literal({"type": "start", "size": SIZE}, (field,), literal)
        for field in STREAM_FIELDS
        for literal in NOT_FINITE
    ]
    messages.append('{"type": "start", "seed": ' + "9" * 5000 + "}")
    errors = _run(_each_refused(plain_server.ws_url + "/v1/stream", messages))
    assert [e["code"] for e in errors] == ["bad_request"] * len(messages), errors
    assert len(app_state(plain_server.app).live_sessions) == 0


def test_omnirt_create_refuses_non_finite_numbers_and_keeps_the_connection(plain_server):
    messages = [
        _with_literal({"type": "session.create", "config": {}}, ("config", field), literal)
        for field in OMNIRT_FIELDS
        for literal in NOT_FINITE
    ]
    errors = _run(_each_refused(plain_server.ws_url + "/v1/avatar/realtime", messages))
    assert [e["code"] for e in errors] == ["bad_request"] * len(messages), errors
    assert len(app_state(plain_server.app).live_sessions) == 0
