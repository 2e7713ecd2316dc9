"""Render jobs in tests: an avatar prepared once for served processes, waiting on a job."""

from __future__ import annotations

import time

import httpx

from headcast.server import ServerConfig
from tests.conftest import MEDIA
from tests.support.servers import running_server

FINISHED = {"succeeded", "failed", "cancelled"}
POLL_S = 0.05  # servers that are polled run without a rate limit


def cached_avatar_id(config: ServerConfig) -> str:
    """An avatar of obama.jpg, uploaded to an in-process server on ``config``.

    This process has the face models loaded already; the avatar it prepares at
    ``config.default_size_px`` lands in the cache that ``headcast serve`` processes read.
    """
    with running_server(config) as server:
        photo = (MEDIA / "obama.jpg").read_bytes()
        response = httpx.post(
            server.base_url + "/v1/avatars",
            files={"image": ("p.jpg", photo, "image/jpeg")},
            timeout=60,
        )
    return response.json()["id"]


def wait_for_job(
    client: httpx.Client, job_id: str, timeout_s: float = 120.0, states: set[str] = FINISHED
) -> dict:
    """Poll the job until its state is one of ``states``."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if job["state"] in states:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['state']} after {timeout_s} s")
        time.sleep(POLL_S)
