"""The service renders files on a remote engine named in a request: ``POST /animate`` and a
job with ``engine: omnirt``, against headcast's own ``/v1/avatar/realtime`` in another
process; the job records the engine that made its video."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import MEDIA, clip_wav
from tests.support.jobs import wait_for_job
from tests.support.remote_serve import realtime_url
from tests.support.servers import server_fixture
from tests.support.video_probe import probe_video

pytestmark = pytest.mark.slow

SHORT, SHORT_S = "0880", 2.99  # seconds of speech
SIZE = 256

server = server_fixture(rate_limit_per_min=0, workers=1)


@pytest.fixture
def client(server, omnirt_remote, monkeypatch):
    # Read when the engine is made, so the service's remote engine renders on the remote.
    monkeypatch.setenv("HEADCAST_ENGINE_URL", realtime_url(omnirt_remote.port))
    with httpx.Client(base_url=server.base_url, timeout=120) as c:
        yield c


def _speech() -> tuple[str, bytes, str]:
    return ("s.wav", clip_wav(SHORT).read_bytes(), "audio/wav")


def _assert_speaking_video(data: bytes, codec: str) -> None:
    video = probe_video(data)
    assert (video.video_codec, video.width) == (codec, SIZE)
    assert video.video_duration_s == pytest.approx(SHORT_S, abs=0.1)
    assert video.audio_duration_s == pytest.approx(SHORT_S, abs=0.1)


def _chunks_counted(client: httpx.Client) -> float:
    """How many chunks of the omnirt engine the service's ``/metrics`` has timed."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == "headcast_remote_chunk_seconds":
            for sample in family.samples:
                if sample.name.endswith("_count") and sample.labels.get("engine") == "omnirt":
                    return sample.value
    return 0.0


def test_post_animate_renders_on_the_remote_engine(client):
    chunks_before = _chunks_counted(client)
    photo = ("p.jpg", (MEDIA / "obama.jpg").read_bytes(), "image/jpeg")
    answer = client.post(
        "/animate",
        files={"audio": _speech(), "image": photo},
        data={"engine": "omnirt", "size": str(SIZE), "format": "mp4"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["x-headcast-engine"] == "omnirt"
    _assert_speaking_video(answer.content, "h264")
    # 2.99 s of speech in the remote's 0.48 s chunks: 7, each timed.
    assert _chunks_counted(client) - chunks_before == 7


def test_a_job_renders_on_the_remote_engine_and_records_it(client):
    photo = (MEDIA / "obama.jpg").read_bytes()
    avatar = client.post("/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")})
    assert avatar.status_code == 201, avatar.text
    form = {"avatar_id": avatar.json()["id"], "size": str(SIZE), "engine": "omnirt"}
    submitted = client.post("/v1/jobs", data=form, files={"audio": _speech()})
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["engine"] == "omnirt"
    done = wait_for_job(client, submitted.json()["id"])
    assert done["state"] == "succeeded", done["error"]
    assert client.get(f"/v1/jobs/{done['id']}").json()["engine"] == "omnirt"
    _assert_speaking_video(client.get(done["video_url"]).content, "h264")


def test_the_configured_engine_renders_what_names_none(client, monkeypatch):
    monkeypatch.setenv("HEADCAST_ENGINE", "omnirt")
    photo = (MEDIA / "obama.jpg").read_bytes()
    avatar = client.post("/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")})
    form = {"avatar_id": avatar.json()["id"], "size": str(SIZE)}
    submitted = client.post("/v1/jobs", data=form, files={"audio": _speech()})
    assert submitted.status_code == 202, submitted.text
    done = wait_for_job(client, submitted.json()["id"])
    assert (done["state"], done["engine"]) == ("succeeded", "omnirt"), done["error"]
    listing = client.get("/v1/engines").json()
    assert listing["default"] == "omnirt" and listing["engines"]["omnirt"]["health"] == "ok"


def test_an_unknown_engine_is_refused_naming_the_field_and_the_choices(client):
    photo = ("p.jpg", (MEDIA / "obama.jpg").read_bytes(), "image/jpeg")
    for path, files, form in (
        ("/animate", {"audio": _speech(), "image": photo}, {}),
        ("/v1/jobs", {"audio": _speech()}, {"avatar_id": "a" * 32}),
    ):
        answer = client.post(path, files=files, data={**form, "engine": "nope"})
        assert answer.status_code == 422, answer.text
        message = answer.json()["error"]["message"]
        assert message.startswith("engine: unknown engine 'nope'"), message
        assert "omnirt" in message and "warp" in message, message
