"""The "omnirt-http" engine: headcast's own ``POST /v1/generate`` on loopback is the remote that
renders a file fragment by fragment; the independent judge checks the video; each request's
latency reaches ``/metrics``; faults give one clear line naming the server and leave no file;
a server that cannot be reached is backed off; closing mid-render hangs up at once."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from headcast.animate import animate
from headcast.enrol.portrait import prepare_portrait
from headcast.render import get_engine
from headcast.render.frame_audio import silent_frame
from headcast.render.remote import RemoteEndpoint
from headcast.render.remote.http_generate import (
    ENGINE_NAME,
    FRAGMENT_S,
    HttpEngineError,
    OmniRtHttpEngine,
)
from headcast.render.remote.reconnect import RECONNECT_BACKOFF_S
from quality import lipsync
from quality.video import read_video
from tests.conftest import SAMPLES, clip_wav, reference_phones
from tests.support.serve_process import ServeProcess
from tests.support.servers import free_port, server_fixture

FPS = 25
SIZE = 256
CLIP = "0890"  # 5.3 s: six fragments, the last one padded

KEY = "remote-key"
# The remote takes callers with its key only: the render shows the key is sent as it expects.
server = server_fixture(shared_dir=True, default_size_px=SIZE, api_keys=(KEY,))


@pytest.fixture(scope="module")
def avatar():
    return prepare_portrait(SAMPLES / "astronaut.png", SIZE)


@pytest.fixture(scope="module")
def remote_render(server, tmp_path_factory):
    out = tmp_path_factory.mktemp("remote-http") / "astronaut.mp4"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HEADCAST_ENGINE_URL", server.base_url)
        env.setenv("HEADCAST_ENGINE_API_KEY", KEY)
        result = animate(
            SAMPLES / "astronaut.png", clip_wav(CLIP), out, engine="omnirt-http", fps=FPS, size=SIZE
        )
    return result, read_video(out)


@pytest.fixture(scope="module")
def remote_measures(remote_render, judge):
    return judge.track(remote_render[1].frames)


def test_the_engine_declares_itself_remote_fed_speech_for_files_only():
    capabilities = get_engine("omnirt-http").capabilities
    assert capabilities.as_dict()["kind"] == "remote"
    assert capabilities.as_dict()["input"] == "audio" and capabilities.audio_rate_hz == 16_000
    assert not capabilities.live


def test_every_frame_comes_back_once_the_padding_is_dropped(remote_render):
    result, video = remote_render
    # The last fragment went out padded to a whole one: its padding's frames are not here.
    assert result.n_frames == round(result.audio_duration_s * FPS)
    assert result.n_frames % round(FRAGMENT_S * FPS) != 0
    assert len(video.frames) == result.n_frames
    assert video.frames[0].shape == (SIZE, SIZE, 3)
    assert abs(video.duration - result.audio_duration_s) <= 1 / FPS


def test_the_remote_video_is_lip_synced(remote_render, remote_measures, judge):
    _, video = remote_render
    phones = reference_phones(CLIP)
    closure = lipsync.bilabial_closure(remote_measures, phones, FPS)
    assert closure >= 0.9, f"lips closed on {closure:.0%} of /p b m/"
    assert lipsync.silence_rest(remote_measures, phones, FPS) >= 0.9
    apertures = lipsync.apertures_of(remote_measures)
    expected = lipsync.expected_openness(phones, FPS, len(apertures))
    assert lipsync.openness_correlation(apertures, expected) >= 0.5
    assert lipsync.av_offset_frames(apertures, video.audio, FPS) == 0


def test_a_server_that_refuses_the_connection_is_named_and_nothing_is_written(
    tmp_path, monkeypatch
):
    port = free_port()  # nothing listens there
    monkeypatch.setenv("HEADCAST_ENGINE_URL", f"http://127.0.0.1:{port}")
    out = tmp_path / "out.mp4"
    with pytest.raises(HttpEngineError) as failure:
        animate(SAMPLES / "astronaut.png", clip_wav("0880"), out, engine="omnirt-http", size=SIZE)
    message = str(failure.value)
    assert f"http://127.0.0.1:{port}" in message and "cannot be reached" in message, message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("key", "config", "said"),
    [
        # A configuration key the remote refuses: its own reason comes back.
        (KEY, {"seed": "many"}, "answered HTTP 422: config.seed: must be a number"),
        ("wrong-key", {}, "answered HTTP 401: "),
    ],
)
def test_a_server_error_is_named_with_its_reason(server, avatar, key, config, said):
    endpoint = RemoteEndpoint(server.base_url + "/v1/generate", key, config=config)
    session = OmniRtHttpEngine(endpoint).start(avatar)
    try:
        frames = [session.submit(silent_frame(i, 16_000, FPS, 0.0)) for i in range(FPS)]
        with pytest.raises(HttpEngineError) as failure:
            frames[-1].result(timeout=60)
        # Frames asked after a failure fail at once, with the same reason.
        assert session.submit(silent_frame(FPS, 16_000, FPS, 0.0)).exception() is failure.value
    finally:
        session.close()
    message = str(failure.value)
    assert f"server {server.base_url}/v1/generate {said}" in message, message


class _Misbehaving(BaseHTTPRequestHandler):
    """A generation server that stalls, or answers with a video no decoder can read."""

    behaviour = "garbage"
    folder = Path()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.behaviour == "stall":
            time.sleep(STALL_S)
        garbage = self.folder / "garbage.mp4"
        garbage.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
        body = json.dumps({"outputs": [{"kind": "video", "path": str(garbage)}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


STALL_S = 3.0


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [("stall", "did not answer within 0.5 s"), ("garbage", "sent a video that cannot be decoded")],
)
def test_a_stalled_or_garbled_answer_is_named_and_nothing_is_written(
    behaviour, said, avatar, tmp_path
):
    handler = type("Handler", (_Misbehaving,), {"behaviour": behaviour, "folder": tmp_path})
    remote = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=remote.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{remote.server_address[1]}"
    session = OmniRtHttpEngine(RemoteEndpoint(url, timeout_s=0.5)).start(avatar)
    try:
        frames = [session.submit(silent_frame(i, 16_000, FPS, 0.0)) for i in range(FPS)]
        with pytest.raises(HttpEngineError) as failure:
            frames[0].result(timeout=30)
    finally:
        session.close()
        remote.shutdown()
        remote.server_close()
    message = str(failure.value)
    assert f"server {url}/v1/generate {said}" in message and "\n" not in message, message


def _remote_latency_counts(base_url: str) -> dict[str, float]:
    """The remote-engine histograms' sample counts and sums for this engine, from /metrics."""
    text = httpx.get(base_url + "/metrics").text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (
            "headcast_remote_first_frame_seconds",
            "headcast_remote_chunk_seconds",
        ):
            continue
        for sample in family.samples:
            if sample.labels.get("engine") == ENGINE_NAME and sample.name.endswith(
                ("_count", "_sum")
            ):
                counts[sample.name] = sample.value
    return counts


def test_each_requests_latency_reaches_the_remote_engine_histograms(server, avatar):
    """A render in this process (as POST /animate and jobs render) counts one first frame and
    one chunk per request in the histograms ``/metrics`` serves."""
    before = _remote_latency_counts(server.base_url)
    endpoint = RemoteEndpoint(server.base_url, KEY)
    session = OmniRtHttpEngine(endpoint).start(avatar)
    try:
        frames = [session.submit(silent_frame(i, 16_000, FPS, 0.0)) for i in range(FPS * 2)]
        session.flush()
        for frame in frames:
            assert frame.result(timeout=120).shape == (SIZE, SIZE, 3)
        latencies = list(session.chunk_latencies_ms)
    finally:
        session.close()
    after = _remote_latency_counts(server.base_url)

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert len(latencies) == 2 and all(ms > 0 for ms in latencies), latencies
    assert grew("headcast_remote_chunk_seconds_count") == 2
    assert grew("headcast_remote_chunk_seconds_sum") == pytest.approx(sum(latencies) / 1000)
    assert grew("headcast_remote_first_frame_seconds_count") == 1
    assert grew("headcast_remote_first_frame_seconds_sum") == pytest.approx(latencies[0] / 1000)


@pytest.mark.slow  # starts a second service process
def test_post_animate_on_the_engine_counts_its_requests_in_that_services_metrics(server, tmp_path):
    """The service in its own process renders ``POST /animate`` on ``server``'s
    ``/v1/generate``: its own ``/metrics`` counts the render's fragments."""
    api = ServeProcess(
        tmp_path / "data",
        env={"HEADCAST_ENGINE_URL": server.base_url, "HEADCAST_ENGINE_API_KEY": KEY},
    ).wait_ready()
    try:
        speech = ("s.wav", clip_wav("0880").read_bytes(), "audio/wav")  # 2.99 s
        photo = ("p.png", (SAMPLES / "astronaut.png").read_bytes(), "image/png")
        with api.client() as client:
            answer = client.post(
                "/animate",
                files={"audio": speech, "image": photo},
                data={"engine": "omnirt-http", "size": str(SIZE), "format": "mp4"},
                timeout=300,
            )
            assert answer.status_code == 200, answer.text
            counts = _remote_latency_counts(api.base_url)
    finally:
        api.stop()
    assert counts["headcast_remote_chunk_seconds_count"] == 3  # 2.99 s: three fragments
    assert counts["headcast_remote_first_frame_seconds_count"] == 1
    assert counts["headcast_remote_first_frame_seconds_sum"] > 0
    assert (
        counts["headcast_remote_first_frame_seconds_sum"]
        <= counts["headcast_remote_chunk_seconds_sum"]
    )


def test_an_unreachable_server_is_backed_off_then_used_once_it_is_back(avatar):
    port = free_port()
    endpoint = RemoteEndpoint(f"http://127.0.0.1:{port}", timeout_s=2.0)
    session = OmniRtHttpEngine(endpoint).start(avatar)
    try:
        frames = [session.submit(silent_frame(i, 16_000, FPS, 0.0)) for i in range(FPS)]
        with pytest.raises(HttpEngineError) as refused:
            frames[0].result(timeout=30)
    finally:
        session.close()
    assert refused.value.unreachable and "cannot be reached" in refused.value.what

    # Something listens there now, but a new render within the backoff does not knock.
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.3)
    try:
        with pytest.raises(HttpEngineError) as backed_off:
            OmniRtHttpEngine(endpoint).start(avatar)
        message = str(backed_off.value)
        assert backed_off.value.unreachable and "the next try is in" in message, message
        assert f"http://127.0.0.1:{port}/v1/generate" in message and "\n" not in message
        with pytest.raises(TimeoutError):
            listener.accept()

        time.sleep(RECONNECT_BACKOFF_S)
        session = OmniRtHttpEngine(endpoint).start(avatar)
        try:
            frames = [session.submit(silent_frame(i, 16_000, FPS, 0.0)) for i in range(FPS)]
            listener.settimeout(30)
            knocked, _ = listener.accept()  # the request after the wait reaches the server
            knocked.close()
        finally:
            session.close()
    finally:
        listener.close()


class _Stalling(BaseHTTPRequestHandler):
    """A generation server that takes the request, then waits for an answer it never gives
    until the client hangs up."""

    received = threading.Event()
    hung_up = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.received.set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                self.hung_up.set()
                return

    def log_message(self, *args: object) -> None:
        pass


def test_closing_mid_render_cancels_the_frames_and_hangs_up_on_the_server(avatar):
    handler = type(
        "Handler", (_Stalling,), {"received": threading.Event(), "hung_up": threading.Event()}
    )
    remote = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=remote.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{remote.server_address[1]}"
    try:
        session = OmniRtHttpEngine(RemoteEndpoint(url, timeout_s=60)).start(avatar)
        frames = [session.submit(silent_frame(i, 16_000, FPS, 0.0)) for i in range(FPS + 3)]
        assert handler.received.wait(30), "the request never reached the server"
        session.close()
        # The caller that gave up waits for nothing: every frame is cancelled by close itself.
        assert all(frame.cancelled() for frame in frames)
        # The request under way is dropped, not left for the server to finish.
        assert handler.hung_up.wait(10), "the client never hung up"
    finally:
        remote.shutdown()
        remote.server_close()
