"""Two ``headcast serve`` processes share one Redis: jobs are shared, none runs twice, and the
jobs of a replica killed mid-render are finished by the other."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from headcast.server import ServerConfig
from tests.conftest import MEDIA, clip_wav
from tests.support.jobs import cached_avatar_id, wait_for_job
from tests.support.serve_process import ServeProcess
from tests.support.servers import free_port, running_server
from tests.support.video_probe import probe_video

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
# A killed replica's jobs are requeued this soon. Long enough that a live replica, busy in
# code that holds the GIL on a loaded machine, still renews its lease in time.
LEASE_S = "6"


@pytest.fixture
def redis_url(tmp_path):
    if not Path(REDIS_SERVER).is_file():
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.05)
    yield url
    process.terminate()
    process.wait(timeout=10)


def _replica(data_dir, redis_url) -> ServeProcess:
    return ServeProcess(
        data_dir,
        "--redis-url", redis_url, "--workers", "1",
        env={"HEADCAST_JOB_LEASE_S": LEASE_S},
    )  # fmt: skip


def test_replicas_share_jobs_and_finish_a_dead_replicas_job(tmp_path, redis_url):
    shared = tmp_path / "shared-volume"
    config = ServerConfig.from_env(
        {}, allow_anonymous=True, data_dir=shared, redis_url=redis_url, default_size_px=256
    )
    avatar_id = cached_avatar_id(config)

    replicas = [_replica(shared, redis_url), _replica(shared, redis_url)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda r: r.wait_ready(), replicas))
    survivor, victim = replicas
    store = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        clients = [r.client() for r in replicas]
        jobs = []
        for i in range(3):
            response = clients[i % 2].post(
                "/v1/jobs",
                data={"avatar_id": avatar_id, "size": "256"},
                files={"audio": ("x.wav", clip_wav("0880").read_bytes(), "audio/wav")},
            )
            assert response.status_code == 202, response.text
            jobs.append(response.json()["id"])

        # Both replicas take work from the one queue: two jobs run at once, one on each.
        deadline = time.monotonic() + 60
        while True:
            running = {
                job: store.hget(f"headcast:job:{job}", "worker")
                for job in jobs
                if store.hget(f"headcast:job:{job}", "state") == "running"
            }
            if len(set(running.values())) == 2:
                break
            assert time.monotonic() < deadline, "the two replicas never ran jobs side by side"
            time.sleep(0.05)
        victim_tag = f"-{victim.process.pid}-"
        (cut_short,) = [job for job, worker in running.items() if victim_tag in worker]
        victim.kill()

        with survivor.client() as client:
            for job in jobs:
                done = wait_for_job(client, job, timeout_s=120)
                assert done["state"] == "succeeded", done
                video = probe_video(client.get(done["video_url"]).content)
                assert (video.video_codec, video.audio_codec) == ("h264", "aac")
                expected_attempts = 2 if job == cut_short else 1
                assert done["attempts"] == expected_attempts, (job == cut_short, done)
            listed = {j["id"] for j in client.get("/v1/jobs").json()["jobs"]}
            assert set(jobs) <= listed, "records live in Redis: every replica lists every job"
        assert victim_tag not in store.hget(f"headcast:job:{cut_short}", "worker")
    finally:
        for replica in replicas:
            replica.stop()

    # The workers' own logs: every job started once, except the one whose replica died,
    # which started once there and once on the survivor.
    starts = [
        m.group(1)
        for replica in replicas
        for m in re.finditer(r"job ([0-9a-f]{32}): attempt", replica.log.read_text())
    ]
    assert sorted(starts) == sorted([*jobs, cut_short])
    assert store.llen("headcast:queue") == 0
    assert [k for k in store.keys("headcast:processing:*") if store.llen(k)] == []


def test_queue_limit_and_cancel_hold_across_replicas(tmp_path, redis_url):
    config = ServerConfig.from_env(
        {}, allow_anonymous=True, data_dir=tmp_path, redis_url=redis_url, max_queued_jobs=1,
        rate_limit_per_min=0, default_size_px=256,
    )  # fmt: skip
    with (
        running_server(config) as first,
        running_server(config) as second,
        httpx.Client(base_url=first.base_url, timeout=60) as a,
        httpx.Client(base_url=second.base_url, timeout=60) as b,
    ):
        photo = (MEDIA / "obama2.jpg").read_bytes()
        avatar_id = a.post("/v1/avatars", files={"image": ("p.jpg", photo)}).json()["id"]
        assert b.get(f"/v1/avatars/{avatar_id}").status_code == 200, "one shared volume"

        def submit(client: httpx.Client) -> httpx.Response:
            audio = {"audio": ("x.wav", clip_wav("0870").read_bytes(), "audio/wav")}
            return client.post("/v1/jobs", data={"avatar_id": avatar_id}, files=audio)

        answers = [submit(client) for client in (a, b, a, b, a, b)]
        codes = [r.status_code for r in answers]
        assert 429 in codes, codes  # two running and one waiting at most
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.json()["error"]["code"] == "queue_full"
        assert int(refused.headers["retry-after"]) > 0
        accepted = [r.json()["id"] for r in answers if r.status_code == 202]
        assert len(accepted) <= 3, codes

        # A job submitted through one replica is cancelled through the other.
        for job_id in accepted:
            assert b.delete(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
        for job_id in accepted:
            job = wait_for_job(a, job_id)
            assert job["state"] == "cancelled" and job["video_url"] is None
        assert {j["id"] for j in a.get("/v1/jobs").json()["jobs"]} == set(accepted)
        assert "headcast_queue_depth 0.0" in b.get("/metrics").text
