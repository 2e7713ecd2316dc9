"""The configured fallback engine takes over when a remote engine's server is down, says so in
the log and in what it made (the result, the response, the job), and is off by default: then
the failure is the render's, with nothing written."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from headcast.animate import animate
from headcast.errors import EngineError
from headcast.face.avatar import prepare_avatar
from headcast.session import Session, VideoFrame
from tests.conftest import MEDIA, SAMPLES, clip_wav, run_cli
from tests.support.jobs import wait_for_job
from tests.support.servers import free_port, server_fixture
from tests.support.video_probe import probe_video

SHORT, SHORT_S = "0880", 2.99  # seconds of speech
SIZE = 256

server = server_fixture(rate_limit_per_min=0, workers=1)


@pytest.fixture
def remote_down(monkeypatch) -> str:
    """A remote engine's URL where nothing listens, in the settings."""
    url = f"ws://127.0.0.1:{free_port()}/v1/avatar/realtime"
    monkeypatch.setenv("HEADCAST_ENGINE_URL", url)
    return url


def test_animate_falls_back_and_says_so(remote_down, monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("HEADCAST_ENGINE_FALLBACK", "warp")
    out = tmp_path / "out.mp4"
    with caplog.at_level(logging.WARNING, logger="headcast.engine"):
        result = animate(MEDIA / "obama.jpg", clip_wav(SHORT), out, size=SIZE, engine="omnirt")
    assert result.engine == "warp"
    video = probe_video(out.read_bytes())
    assert video.video_duration_s == pytest.approx(SHORT_S, abs=0.1)
    warned = [r.getMessage() for r in caplog.records if r.name == "headcast.engine"]
    assert len(warned) == 1, warned
    assert "engine 'omnirt' failed" in warned[0] and "fallback engine 'warp'" in warned[0]
    assert "127.0.0.1" in warned[0] and "refused the connection" in warned[0]


def test_without_a_fallback_the_failure_is_the_renders(remote_down, tmp_path):
    out = tmp_path / "out.mp4"
    result = run_cli(
        "animate", str(SAMPLES / "astronaut.png"), str(SAMPLES / "speech.wav"),
        "--engine", "omnirt", "--engine-url", remote_down, "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 2
    assert "remote engine at ws://127.0.0.1" in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_live_session_starts_on_the_fallback(remote_down, monkeypatch):
    avatar = prepare_avatar((MEDIA / "obama.jpg").read_bytes(), SIZE)
    with pytest.raises(EngineError, match=r"refused the connection|the next try is in"):
        Session(avatar, engine="omnirt")
    monkeypatch.setenv("HEADCAST_ENGINE_FALLBACK", "warp")
    session = Session(avatar, engine="omnirt", realtime=True)
    try:
        assert session.engine == "warp"
        first = asyncio.run(anext(aiter(session.frames())))
        assert isinstance(first, VideoFrame) and first.image.shape == (SIZE, SIZE, 3)
    finally:
        session.close()


def test_the_service_records_the_engine_that_made_the_video(server, remote_down, monkeypatch):
    monkeypatch.setenv("HEADCAST_ENGINE_FALLBACK", "warp")
    speech = ("s.wav", clip_wav(SHORT).read_bytes(), "audio/wav")
    photo = (MEDIA / "obama.jpg").read_bytes()
    with httpx.Client(base_url=server.base_url, timeout=120) as client:
        answer = client.post(
            "/animate",
            files={"audio": speech, "image": ("p.jpg", photo, "image/jpeg")},
            data={"engine": "omnirt", "size": str(SIZE), "format": "mp4"},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-headcast-engine"] == "warp"
        avatar = client.post("/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")})
        form = {"avatar_id": avatar.json()["id"], "size": str(SIZE), "engine": "omnirt"}
        submitted = client.post("/v1/jobs", data=form, files={"audio": speech})
        assert submitted.json()["engine"] == "omnirt"  # asked for
        done = wait_for_job(client, submitted.json()["id"])
    assert (done["state"], done["engine"]) == ("succeeded", "warp"), done["error"]


def test_serve_refuses_an_unknown_fallback(monkeypatch):
    monkeypatch.setenv("HEADCAST_ENGINE_FALLBACK", "nope")
    result = run_cli("serve", "--port", str(free_port()))
    assert result.returncode == 2
    assert "$HEADCAST_ENGINE_FALLBACK: unknown engine 'nope'" in result.stderr
