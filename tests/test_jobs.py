"""``/v1/jobs`` on a real server: submit, progress, videos, cancel, back-pressure, restarts."""

from __future__ import annotations

import time

import httpx
import pytest

from headcast.errors import InputError
from headcast.server import ServerConfig
from headcast.server.jobs.record import MAX_ATTEMPTS, JobRecord, JobState
from headcast.server.jobs.sqlite_store import SqliteJobStore
from tests.conftest import MEDIA, clip_text, clip_wav
from tests.support.jobs import cached_avatar_id, wait_for_job
from tests.support.serve_process import ServeProcess
from tests.support.servers import running_server, server_config, server_fixture
from tests.support.video_probe import probe_video

SHORT, SHORT_S = "0880", 2.99  # seconds of speech
LONG = "0870"  # 7.1 s: long enough to catch its job running


server = server_fixture(rate_limit_per_min=0, workers=1)


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.base_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def avatar_id(client):
    photo = (MEDIA / "obama.jpg").read_bytes()
    response = client.post("/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _submit(client, avatar_id, clip: str | None = SHORT, **form) -> httpx.Response:
    files = {"audio": ("x.wav", clip_wav(clip).read_bytes(), "audio/wav")} if clip else None
    return client.post(
        "/v1/jobs", data={"avatar_id": avatar_id, "size": "256", **form}, files=files
    )


def test_audio_job_and_text_job_render_videos(client, avatar_id, judge):
    by_audio = _submit(client, avatar_id, text=clip_text(SHORT))
    assert by_audio.status_code == 202, by_audio.text
    job = by_audio.json()
    assert by_audio.headers["location"] == f"/v1/jobs/{job['id']}"
    assert (job["state"], job["progress"], job["error"], job["video_url"]) == (
        "queued", 0.0, None, None,
    )  # fmt: skip
    assert (job["avatar_id"], job["format"], job["size"]) == (avatar_id, "mp4", 256)
    by_text = _submit(client, avatar_id, None, text="Hello! Nice to meet you.", format="webm")
    assert by_text.status_code == 202, by_text.text

    not_yet = client.get(f"/v1/jobs/{by_text.json()['id']}/video")
    assert not_yet.status_code == 409
    assert not_yet.json()["error"]["code"] == "not_ready"

    done = wait_for_job(client, job["id"])
    assert (done["state"], done["progress"], done["attempts"]) == ("succeeded", 100.0, 1)
    assert done["video_url"] == f"/v1/jobs/{job['id']}/video"
    video_response = client.get(done["video_url"])
    assert video_response.headers["content-type"] == "video/mp4"
    video = probe_video(video_response.content)
    assert (video.video_codec, video.audio_codec, video.width) == ("h264", "aac", 256)
    assert video.video_duration_s == pytest.approx(SHORT_S, abs=0.1)
    assert judge.detect(video.middle_frame) is not None

    spoken = wait_for_job(client, by_text.json()["id"])
    assert spoken["state"] == "succeeded", spoken["error"]
    video = probe_video(client.get(spoken["video_url"]).content)
    assert (video.video_codec, video.audio_codec) == ("vp9", "opus")
    assert 1.0 < video.audio_duration_s < 4.0
    assert video.video_duration_s == pytest.approx(video.audio_duration_s, abs=0.1)

    listed = [j["id"] for j in client.get("/v1/jobs").json()["jobs"]]
    assert listed[:2] == [spoken["id"], done["id"]], "newest first"
    assert "headcast_rendered_frames_total" in client.get("/metrics").text


@pytest.mark.parametrize(
    ("form", "files", "status", "says"),
    [
        ({}, {}, 422, "send audio, or text"),
        ({"avatar_id": "0" * 32}, {}, 404, "no avatar"),
        ({"avatar_id": "../../etc"}, {}, 404, "no avatar"),
        ({}, {"audio": ("a.wav", b"RIFF....WAVEfmt nonsense", "audio/wav")}, 422, "audio"),
        ({}, {"audio": ("a.jpg", (MEDIA / "obama.jpg").read_bytes(), "audio/wav")}, 422, "audio"),
        ({"text": "Hello there.", "voice": "zz-nowhere"}, {}, 422, "voice"),
        ({"text": "x" * 6000}, {}, 422, "text"),
        ({"text": "Hi.", "format": "gif"}, {}, 422, "format"),
    ],
)
def test_bad_submissions_are_refused_before_queueing(client, avatar_id, form, files, status, says):
    before = len(client.get("/v1/jobs").json()["jobs"])
    response = client.post("/v1/jobs", data={"avatar_id": avatar_id, **form}, files=files or None)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]["message"]
    assert len(client.get("/v1/jobs").json()["jobs"]) == before, "nothing was queued"


def test_cancel_jobs_and_a_job_whose_avatar_went_away(server, client, avatar_id):
    running = _submit(client, avatar_id, LONG).json()
    queued = _submit(client, avatar_id, LONG).json()
    photo = (MEDIA / "biden.jpg").read_bytes()
    doomed = client.post("/v1/avatars", files={"image": ("b.jpg", photo)}).json()["id"]
    orphan = _submit(client, doomed, None, text="Nobody will see this.").json()
    assert client.delete(f"/v1/avatars/{doomed}").status_code == 204
    wait_for_job(client, running["id"], states={"running"})

    cancelled = client.delete(f"/v1/jobs/{queued['id']}")
    assert cancelled.status_code == 200
    assert cancelled.json()["state"] == "cancelled"
    stopped = client.delete(f"/v1/jobs/{running['id']}").json()
    assert stopped["state"] == "cancelled"

    # The worker is free again at once: the next job runs and finishes.
    after = _submit(client, avatar_id).json()
    assert wait_for_job(client, after["id"])["state"] == "succeeded"
    for job_id in (running["id"], queued["id"]):
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["state"] == "cancelled" and job["video_url"] is None
        assert client.get(f"/v1/jobs/{job_id}/video").status_code == 409
        folder = server.config.data_dir / "jobs" / job_id
        assert not folder.exists() or not any(folder.glob("*video*")), "no video, whole or part"
    assert client.get(f"/v1/jobs/{queued['id']}").json()["attempts"] == 0, "never started"
    failed = client.get(f"/v1/jobs/{orphan['id']}").json()
    assert failed["state"] == "failed" and failed["error"]["code"] == "avatar_gone", failed


def test_full_queue_answers_429_with_retry_after(tmp_path):
    config = server_config(tmp_path, rate_limit_per_min=0, workers=1, max_queued_jobs=2)
    with (
        running_server(config) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        photo = (MEDIA / "obama2.jpg").read_bytes()
        avatar = client.post("/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")})
        answers = [_submit(client, avatar.json()["id"], LONG) for _ in range(5)]
        codes = [a.status_code for a in answers]
        assert codes[:2] == [202, 202] and 429 in codes, codes
        refused = next(a for a in answers if a.status_code == 429)
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["error"]["code"] == "queue_full"
        accepted = [a.json()["id"] for a in answers if a.status_code == 202]
        assert len(client.get("/v1/jobs").json()["jobs"]) == len(accepted), "refused = not stored"
        for job_id in accepted:
            client.delete(f"/v1/jobs/{job_id}")


def test_one_data_directory_serves_one_process(tmp_path):
    first = SqliteJobStore(tmp_path / "headcast.sqlite3")
    try:
        with pytest.raises(InputError, match="another headcast server"):
            SqliteJobStore(tmp_path / "headcast.sqlite3")
    finally:
        first.close("test")
    SqliteJobStore(tmp_path / "headcast.sqlite3").close("test")


def test_a_job_survives_a_crash_of_the_server(tmp_path):
    data_dir = tmp_path / "data"
    config = ServerConfig.from_env(
        {}, allow_anonymous=True, rate_limit_per_min=0, data_dir=data_dir, default_size_px=256
    )
    avatar_id = cached_avatar_id(config)
    server = ServeProcess(data_dir).wait_ready()
    try:
        with server.client() as client:
            interrupted = _submit(client, avatar_id, SHORT).json()
            waiting = _submit(client, avatar_id, SHORT).json()
            wait_for_job(client, interrupted["id"], states={"running"})
            folder, deadline = data_dir / "jobs" / interrupted["id"], time.monotonic() + 60
            while not list(folder.glob(".video.mp4.*.part")):  # kill it while writing frames
                assert time.monotonic() < deadline, "the render never started writing"
                time.sleep(0.02)
        server.kill()
        server = ServeProcess(data_dir).wait_ready()
        with server.client() as client:
            for job in (interrupted, waiting):
                done = wait_for_job(client, job["id"])
                assert done["state"] == "succeeded", done
                probe_video(client.get(done["video_url"]).content)
            again = client.get(f"/v1/jobs/{interrupted['id']}").json()
            assert again["attempts"] == 2, "retried once after the crash"
            assert client.get(f"/v1/jobs/{waiting['id']}").json()["attempts"] == 1
            listed = {j["id"] for j in client.get("/v1/jobs").json()["jobs"]}
            assert {interrupted["id"], waiting["id"]} <= listed, "nothing lost"
        leftovers = list((data_dir / "jobs").rglob(".*.part"))
        assert leftovers == [], "no half-written video survives"
    finally:
        server.stop()


def test_a_job_cut_short_twice_fails_cleanly(tmp_path):
    """Past MAX_ATTEMPTS a job whose server keeps dying fails with a reason, never loops."""
    store = SqliteJobStore(tmp_path / "headcast.sqlite3")
    try:
        job = JobRecord.new(
            "owner", avatar_id="a" * 32, format="mp4", fps=25.0, size_px=256,
            has_audio=False, text="Hello.", voice=None,
        )  # fmt: skip
        assert store.submit(job, max_queued=4)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            claimed = store.claim(f"process-{attempt}", timeout_s=0)
            assert claimed is not None and claimed.attempts == attempt
            # The process dies here; the next one to start finds the job running.
            assert store.recover(f"process-{attempt + 1}") == 1
        ended = store.get(job.id)
        assert ended.state == JobState.FAILED and ended.error_code == "interrupted"
        assert store.claim("process-next", timeout_s=0) is None
    finally:
        store.close("test")


def test_a_graceful_stop_hands_the_running_job_back(tmp_path):
    config = server_config(tmp_path, rate_limit_per_min=0, workers=1)
    with (
        running_server(config) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        photo = (MEDIA / "obama.jpg").read_bytes()
        avatar = client.post("/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")})
        job = _submit(client, avatar.json()["id"], LONG).json()
        wait_for_job(client, job["id"], states={"running"})
    store = SqliteJobStore(config.database_path)
    try:
        handed_back = store.get(job["id"])
        assert (handed_back.state, handed_back.attempts) == (JobState.QUEUED, 0)
    finally:
        store.close("test")
    with (
        running_server(config) as server,
        httpx.Client(base_url=server.base_url, timeout=60) as client,
    ):
        done = wait_for_job(client, job["id"])
        assert (done["state"], done["attempts"]) == ("succeeded", 1)


def test_one_key_cannot_fill_the_queue_for_the_others(tmp_path):
    config = server_config(
        tmp_path,
        api_keys=("tenant-a", "tenant-b"),
        rate_limit_per_min=0,
        workers=1,
        max_queued_jobs=4,  # two keys: each may have two waiting
    )
    assert config.queued_jobs_per_key == 2
    photo = (MEDIA / "obama2.jpg").read_bytes()
    with running_server(config) as server:
        clients = {
            key: httpx.Client(base_url=server.base_url, timeout=60, headers={"X-API-Key": key})
            for key in ("tenant-a", "tenant-b")
        }
        try:
            avatars = {
                key: client.post(
                    "/v1/avatars", files={"image": ("p.jpg", photo, "image/jpeg")}
                ).json()["id"]
                for key, client in clients.items()
            }
            flood = [_submit(clients["tenant-a"], avatars["tenant-a"], LONG) for _ in range(6)]
            codes = [a.status_code for a in flood]
            refused = [a for a in flood if a.status_code == 429]
            assert refused and codes.count(202) <= 3, codes  # two waiting, one maybe running
            assert refused[0].json()["error"]["code"] == "queue_full"
            assert "this key" in refused[0].json()["error"]["message"]
            other = [_submit(clients["tenant-b"], avatars["tenant-b"], LONG) for _ in range(2)]
            assert [a.status_code for a in other] == [202, 202]
            for client in clients.values():
                for job in client.get("/v1/jobs").json()["jobs"]:
                    client.delete(f"/v1/jobs/{job['id']}")
        finally:
            for client in clients.values():
                client.close()
