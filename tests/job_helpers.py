"""Helpers of the render-service tests: probing returned videos, waiting on jobs, and real
``headcast serve`` processes (to kill them like a crash would)."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import av
import httpx
import numpy as np

from headcast.face.avatar import default_cache_dir
from headcast.server import ServerConfig
from tests.conftest import MEDIA, ROOT
from tests.server_helpers import free_port, running_server

FINISHED = {"succeeded", "failed", "cancelled"}
POLL_S = 0.05  # servers that are polled run without a rate limit


@dataclass
class VideoProbe:
    container: str
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    frames: int
    frame_rate: float
    audio_duration_s: float
    middle_frame: np.ndarray = field(repr=False)  # RGB

    @property
    def video_duration_s(self) -> float:
        return self.frames / self.frame_rate


def probe_video(data: bytes) -> VideoProbe:
    """Decode every frame and all the audio of a video file."""
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video)]
        rate = float(video.average_rate or video.guessed_rate)
        fmt = container.format.name
        vcodec, width, height = video.codec_context.name, video.width, video.height
    with av.open(io.BytesIO(data)) as container:
        audio_codec, samples, rate_hz = None, 0, 1
        if container.streams.audio:
            stream = container.streams.audio[0]
            audio_codec, rate_hz = stream.codec_context.name, stream.rate
            samples = sum(f.samples for f in container.decode(stream))
    return VideoProbe(
        fmt, vcodec, audio_codec, width, height, len(frames), rate,
        samples / rate_hz, frames[len(frames) // 2],
    )  # fmt: skip


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


class ServeProcess:
    """``headcast serve`` in its own process, on a free loopback port."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"serve-{self.port}.log"
        environ = {
            **os.environ,
            # The avatars this test process prepared are found there, not prepared again.
            "HEADCAST_CACHE_DIR": str(default_cache_dir().parent),
            "HEADCAST_RATE_LIMIT_PER_MIN": "0",
            **(env or {}),
        }
        command = [sys.executable, "-m", "headcast", "serve", "--port", str(self.port)]
        command += ["--data-dir", str(data_dir), "--allow-anonymous", *args]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=environ, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, timeout_s: float = 60.0) -> ServeProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not become ready: {self.log.read_text()[-2000:]}")

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=60)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
