"""Every front end chooses an engine by name and refuses one it cannot use before any work:
``headcast animate --engine``, ``/animate``, jobs, ``/v1/stream``, OmniRT realtime, WebRTC."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pytest
from websockets.asyncio.client import connect

from headcast.render import EngineCapabilities, EngineKind, register_engine, unregister_engine
from tests.conftest import MEDIA, clip_wav, portrait_b64, run_cli
from tests.support.servers import server_fixture

server = server_fixture()


class _HearsSpeech:
    """Audio-driven, declared only: nothing here gets as far as starting it."""

    capabilities = EngineCapabilities(kind=EngineKind.AUDIO, audio_rate_hz=16000)

    def start(self, avatar):
        raise AssertionError("refused engines are never started")


@pytest.fixture(scope="module", autouse=True)
def hears_speech():
    register_engine("test-hears-speech", _HearsSpeech)
    yield
    unregister_engine("test-hears-speech")


async def _first_text(ws) -> dict:
    while isinstance(reply := await ws.recv(), bytes) or json.loads(reply)["type"] == "position":
        pass
    return json.loads(reply)


def test_live_websockets_take_an_engine_by_name(server):
    async def scenario():
        replies = {}
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as ws:
            for name, engine in (("unknown", "nope"), ("not_a_name", 7), ("warp", "warp")):
                start = {"type": "start", "image_b64": portrait_b64(), "size": 256}
                await ws.send(json.dumps({**start, "engine": engine}))
                replies[name] = await _first_text(ws)
        async with connect(server.ws_url + "/v1/avatar/realtime", max_size=2**24) as ws:
            create = {"type": "session.create", "inputs": {"image_b64": portrait_b64()}}
            await ws.send(json.dumps({**create, "config": {"engine": "nope", "width": 256}}))
            replies["omnirt_unknown"] = json.loads(await ws.recv())
        return replies

    replies = asyncio.run(scenario())
    for name in ("unknown", "not_a_name", "omnirt_unknown"):
        assert replies[name]["type"] == "error" and replies[name]["code"] == "bad_request", name
    assert "unknown engine 'nope' (available: " in replies["unknown"]["message"]
    assert "engine must be an engine's name" in replies["not_a_name"]["message"]
    assert "unknown engine 'nope'" in replies["omnirt_unknown"]["message"]
    assert replies["warp"]["type"] == "started"


def test_http_routes_refuse_an_engine_they_cannot_use(server):
    offer = httpx.post(
        server.base_url + "/v1/webrtc/offer", json={"sdp": "v=0", "engine": "nope"}, timeout=30
    )
    assert offer.status_code == 422 and "unknown engine 'nope'" in offer.text
    files = {
        "audio": ("a.wav", clip_wav("0880").read_bytes(), "audio/wav"),
        "image": ("p.jpg", (MEDIA / "obama.jpg").read_bytes(), "image/jpeg"),
    }
    for engine, why in (
        ("nope", "unknown engine 'nope'"),
        ("test-hears-speech", "engine 'test-hears-speech' is fed audio, not motion"),
    ):
        answer = httpx.post(
            server.base_url + "/animate", files=files, data={"engine": engine}, timeout=60
        )
        assert answer.status_code == 422 and why in answer.json()["error"]["message"], answer.text


def test_animate_command_refuses_an_unknown_engine(tmp_path):
    out = tmp_path / "out.mp4"
    result = run_cli(
        "animate", str(MEDIA / "obama.jpg"), str(clip_wav("0880")), "-o", str(out),
        "--engine", "nope", "-q",
    )  # fmt: skip
    assert result.returncode == 2 and "unknown engine 'nope'" in result.stderr
    assert not out.exists()


def test_jobs_keep_their_engine_and_refuse_one_they_cannot_use(server, tmp_path):
    for engine, why in (
        ("nope", "unknown engine 'nope'"),
        ("test-hears-speech", "engine 'test-hears-speech' is fed audio, not motion"),
    ):
        answer = httpx.post(
            server.base_url + "/v1/jobs",
            data={"avatar_id": "a" * 32, "text": "Hello.", "engine": engine},
            timeout=30,
        )
        assert answer.status_code == 422 and why in answer.json()["error"]["message"], answer.text

    # A job table from before jobs chose an engine: its jobs are warp's, new ones keep theirs.
    from headcast.server.jobs.record import JobRecord
    from headcast.server.jobs.sqlite_store import SqliteJobStore

    path = tmp_path / "headcast.sqlite3"
    old = JobRecord.new(
        "owner", avatar_id="a" * 32, format="mp4", fps=25.0, size_px=256,
        has_audio=False, text="Hello.", voice=None,
    )  # fmt: skip
    columns = {k: v for k, v in old.to_fields().items() if k != "engine"}
    with sqlite3.connect(path) as db:
        db.execute(f"CREATE TABLE jobs ({', '.join(columns)})")
        db.execute(
            f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            list(columns.values()),
        )
    db.close()
    store = SqliteJobStore(path)
    try:
        assert store.get(old.id).engine == "warp"
        chosen = JobRecord.new(
            "owner", avatar_id="b" * 32, format="mp4", fps=25.0, size_px=256,
            has_audio=False, text="Hello.", voice=None, engine="test-hears-speech",
        )  # fmt: skip
        assert store.submit(chosen, max_queued=4)
        assert store.get(chosen.id).engine == "test-hears-speech"
        assert store.get(chosen.id).to_api()["engine"] == "test-hears-speech"
    finally:
        store.close("test")


def test_animate_refuses_an_engine_fed_speech_before_any_work(tmp_path):
    """A file is drawn from FaceMotion: the library refuses an audio-driven engine at once,
    naming it, and writes nothing."""
    from headcast.animate import animate
    from headcast.errors import InputError

    out = tmp_path / "out.mp4"
    with pytest.raises(InputError, match="test-hears-speech"):
        animate(MEDIA / "obama.jpg", clip_wav("0870"), out, engine="test-hears-speech")
    assert not out.exists()
