"""The "omnirt" engine against real servers in other processes: headcast's own
``/v1/avatar/realtime`` as the remote of a file (lip-sync judged independently) and of another
headcast's live ``/v1/stream``, and the faults a remote can have, each provoked for real:
nothing listening, a server killed or frozen mid-stream, and one that answers with an error,
undecodable JPEG or the wrong number of frames."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from headcast.face.avatar import default_cache_dir
from quality import lipsync
from quality.video import read_video
from tests.conftest import ROOT, SAMPLES, clip_wav, portrait_b64, reference_phones, run_cli
from tests.support.serve_process import ServeProcess
from tests.support.servers import free_port
from tests.support.stream_client import collect_stream
from tests.support.waiting import until

FPS = 25
PATH = "/v1/avatar/realtime"


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}{PATH}"


def _animate_command(url: str | None, out: Path) -> list[str]:
    command = [
        sys.executable, "-m", "headcast", "animate", str(SAMPLES / "astronaut.png"),
        str(clip_wav("0870")), "-o", str(out), "-q",
    ]  # fmt: skip
    if url is None:  # the settings name the engine and its server
        return command
    return [*command, "--engine", "omnirt", "--engine-url", url, "--engine-config", "head_motion=0"]


def _start_animate(url: str | None, out: Path, **env: str) -> subprocess.Popen[str]:
    environ = {**os.environ, "HEADCAST_CACHE_DIR": str(default_cache_dir().parent), **env}
    return subprocess.Popen(
        _animate_command(url, out),
        cwd=ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_render_start(out: Path, process: subprocess.Popen[str]) -> None:
    """Until the video being written exists: the remote session is created, frames flow."""
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(f".{out.name}.*.part")):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the render did not start"
        time.sleep(0.005)


def _assert_failed_cleanly(process: subprocess.Popen[str], out: Path, *words: str) -> str:
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    for word in words:
        assert word in lines[0], lines[0]
    assert list(out.parent.iterdir()) == [], "nothing is left half-written"
    return lines[0]


@pytest.fixture(scope="module")
def remote_video(omnirt_remote, tmp_path_factory):
    out = tmp_path_factory.mktemp("omnirt") / "astronaut.mp4"
    result = run_cli(*_animate_command(_url(omnirt_remote.port), out)[3:])
    assert result.returncode == 0, result.stderr
    return read_video(out)


def test_animate_on_a_remote_server_is_lip_synced(remote_video, judge):
    video = remote_video
    speech_s = 113600 / 16000  # librivox-0870.wav
    assert abs(len(video.frames) - speech_s * FPS) <= 1
    assert abs(len(video.audio) / 16000 - speech_s) < 0.1
    assert video.frames[0].shape == (512, 512, 3)
    measures = judge.track(video.frames)
    assert np.mean([m is not None for m in measures]) >= 0.95
    phones = reference_phones("0870")
    apertures = lipsync.apertures_of(measures)
    # Chunked on the remote, lip closures at a chunk's end see less look-ahead.
    assert lipsync.bilabial_closure(measures, phones, FPS) >= 0.8
    assert lipsync.silence_rest(measures, phones, FPS) >= 0.9
    expected = lipsync.expected_openness(phones, FPS, len(apertures))
    assert lipsync.openness_correlation(apertures, expected) >= 0.5
    assert abs(lipsync.av_offset_frames(apertures, video.audio, FPS)) <= 1


def test_say_renders_on_the_remote(omnirt_remote, tmp_path, judge):
    out = tmp_path / "say.mp4"
    result = run_cli(
        "say", str(SAMPLES / "astronaut.png"), "Bob met Pam by the map, and it was a hot day.",
        "-o", str(out), "-q", "--engine-url", _url(omnirt_remote.port),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    video = read_video(out)
    assert abs(len(video.frames) - len(video.audio) / 16000 * FPS) <= 2
    apertures = [m.aperture for m in judge.track(video.frames) if m is not None]
    assert len(apertures) >= 0.95 * len(video.frames)
    assert min(apertures) < 0.04 < 0.1 < max(apertures)  # lips close and open with the words


def test_a_live_stream_renders_on_the_remote(omnirt_front, speech_pcm, judge):
    turn = speech_pcm[16000:48000]  # two seconds of speech
    start = {"type": "start", "image_b64": portrait_b64(), "size": 256, "engine": "omnirt"}

    async def scenario():
        events, frames = [], []

        async with connect(omnirt_front.base_url.replace("http", "ws") + "/v1/stream") as ws:
            await ws.send(json.dumps(start))
            started = json.loads(await ws.recv())
            reader = asyncio.create_task(collect_stream(ws, events, frames))
            await until(lambda: len(frames) >= 5, timeout_s=30)
            for i in range(0, len(turn), 1600):
                await ws.send(turn[i : i + 1600].tobytes())
            await ws.send(json.dumps({"type": "end_segment"}))
            await until(lambda: any(e["type"] == "segment_finished" for e in events), 30)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
        return started, frames

    started, frames = asyncio.run(scenario())
    assert started["type"] == "started"
    speaking = [jpeg for segment, jpeg in frames if segment == 1]
    assert abs(len(speaking) - 50) <= 1
    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in speaking]
    assert all(image.shape == (256, 256, 3) for image in images)
    apertures = [m.aperture for m in (judge.measure(i[:, :, ::-1]) for i in images) if m]
    assert len(apertures) >= 45
    assert max(apertures) - min(apertures) > 0.05  # the mouth moves with the speech


def test_a_live_session_whose_remote_dies_ends_and_the_server_carries_on(tmp_path):
    (tmp_path / "remote").mkdir()
    remote = ServeProcess(tmp_path / "remote" / "data").wait_ready()
    front = ServeProcess(
        tmp_path / "data", env={"HEADCAST_ENGINE_URL": _url(remote.port)}
    ).wait_ready()
    start = {"type": "start", "image_b64": portrait_b64(), "size": 256, "engine": "omnirt"}
    stream_url = front.base_url.replace("http", "ws") + "/v1/stream"

    async def session() -> tuple[int, list[dict]]:
        frames, events = 0, []
        async with connect(stream_url) as ws:
            await ws.send(json.dumps(start))
            with contextlib.suppress(ConnectionClosed):
                async for message in ws:
                    if isinstance(message, str):
                        events.append(json.loads(message))
                        if events[-1]["type"] == "error":
                            break
                        continue
                    frames += 1
                    if frames == 10 and remote.process.poll() is None:
                        remote.kill()
        return frames, events

    try:
        frames, events = asyncio.run(asyncio.wait_for(session(), 60))
        assert frames >= 10
        error = events[-1]
        assert error["type"] == "error" and error["code"] == "engine_failed", events
        assert _url(remote.port) in error["message"] and "mid-stream" in error["message"]
        # The server carries on: ready, and a new session says why it cannot start.
        with front.client() as client:
            assert client.get("/readyz").status_code == 200
        _, events = asyncio.run(asyncio.wait_for(session(), 60))
        assert events[-1]["type"] == "error", events
        assert "refused the connection" in events[-1]["message"]
    finally:
        front.stop()
        remote.stop()


def test_nothing_listening_is_a_one_line_error(tmp_path):
    url = _url(free_port())
    process = _start_animate(url, tmp_path / "out.mp4")
    _assert_failed_cleanly(process, tmp_path / "out.mp4", url, "refused the connection")


def test_the_settings_name_the_engine_and_its_server(tmp_path):
    url = _url(free_port())
    env = {"HEADCAST_ENGINE": "omnirt", "HEADCAST_ENGINE_URL": url}
    process = _start_animate(None, tmp_path / "out.mp4", **env)
    _assert_failed_cleanly(process, tmp_path / "out.mp4", url, "refused the connection")


def test_the_key_goes_to_the_server(tmp_path):
    server = ServeProcess(tmp_path / "data", env={"HEADCAST_API_KEYS": "right-key"}).wait_ready()
    try:
        out = tmp_path / "out" / "out.mp4"
        out.parent.mkdir()
        process = _start_animate(_url(server.port), out, HEADCAST_ENGINE_API_KEY="wrong-key")
        said = "refused the session: error unauthorized: a valid API key is required"
        _assert_failed_cleanly(process, out, _url(server.port), said)
    finally:
        server.stop()


def test_a_server_killed_mid_stream_leaves_no_video(tmp_path):
    server = ServeProcess(tmp_path / "data").wait_ready()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    try:
        process = _start_animate(_url(server.port), out_dir / "out.mp4")
        _wait_for_render_start(out_dir / "out.mp4", process)
        server.kill()
        _assert_failed_cleanly(process, out_dir / "out.mp4", _url(server.port), "mid-stream")
    finally:
        server.stop()


def test_a_frozen_server_times_out(tmp_path):
    server = ServeProcess(tmp_path / "data").wait_ready()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    try:
        process = _start_animate(
            _url(server.port), out_dir / "out.mp4", HEADCAST_ENGINE_TIMEOUT="8"
        )
        _wait_for_render_start(out_dir / "out.mp4", process)
        server.process.send_signal(signal.SIGSTOP)
        try:
            _assert_failed_cleanly(process, out_dir / "out.mp4", _url(server.port), "for 8 s")
        finally:
            server.process.send_signal(signal.SIGCONT)
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("bad-jpeg", "not a decodable JPEG"),
        ("wrong-count", "with 9 frames, not 12"),
        ("error", "error out_of_memory: CUDA out of memory"),
    ],
)
def test_a_misbehaving_server_is_named_with_what_it_did(tmp_path, mode, said):
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.omnirt_faulty", mode],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = _url(int(server.stdout.readline()))
        process = _start_animate(url, tmp_path / "out.mp4")
        _assert_failed_cleanly(process, tmp_path / "out.mp4", url, said)
    finally:
        server.kill()
        server.wait(timeout=10)
