"""Live ``/v1/stream`` sessions on the "omnirt" engine, with headcast's own
``/v1/avatar/realtime`` in another process as the remote: an interrupt mid-speech cancels what
the remote has queued, the face falls idle at once and the session takes the next turn; the
remote's first-frame and per-chunk latencies reach ``/metrics``; a session started while the
remote is down fails saying so, and once it is back a new session uses it."""

from __future__ import annotations

import asyncio
import json
import time

import cv2
import numpy as np
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from headcast.face.avatar import prepare_avatar
from headcast.render.frame_audio import FrameAudio, silent_frame
from headcast.render.remote.endpoint import RemoteEndpoint
from headcast.render.remote.realtime import OmniRTEngine
from headcast.render.remote.reconnect import ReconnectBackoff
from tests.conftest import SAMPLES, portrait_b64
from tests.support.remote_serve import realtime_url
from tests.support.serve_process import ServeProcess
from tests.support.servers import free_port
from tests.support.stream_client import collect_stream
from tests.support.waiting import until

NO_SEGMENT = -1
# Frames already on the socket when the interrupt is sent may still show the old speech.
IN_TRANSIT_FRAMES = 3


def _aperture(judge, jpeg: bytes) -> float | None:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    measure = judge.measure(image[:, :, ::-1])
    return None if measure is None else measure.aperture


def test_an_interrupt_mid_speech_leaves_no_stale_speech(omnirt_front, speech_pcm, judge):
    start = {"type": "start", "image_b64": portrait_b64(), "size": 256, "engine": "omnirt"}
    first_turn = speech_pcm[16000:64000]  # three seconds, cut after one
    second_turn = speech_pcm[64000:96000]  # two seconds

    async def scenario():
        events: list[dict] = []
        frames: list[tuple[int, bytes]] = []  # (segment, jpeg) in arrival order

        async with connect(omnirt_front.base_url.replace("http", "ws") + "/v1/stream") as ws:
            await ws.send(json.dumps(start))
            reader = asyncio.create_task(collect_stream(ws, events, frames))
            await until(lambda: len(frames) >= 5, timeout_s=30)
            for i in range(0, len(first_turn), 1600):
                await ws.send(first_turn[i : i + 1600].tobytes())
            await until(lambda: sum(s == 1 for s, _ in frames) >= 25, timeout_s=30)
            interrupted_at = len(frames)
            await ws.send(json.dumps({"type": "interrupt"}))
            await until(lambda: len(frames) >= interrupted_at + 30, timeout_s=30)
            for i in range(0, len(second_turn), 1600):
                await ws.send(second_turn[i : i + 1600].tobytes())
            await ws.send(json.dumps({"type": "end_segment"}))
            await until(lambda: any(e["type"] == "segment_finished" for e in events), 30)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
        return events, frames, interrupted_at

    events, frames, interrupted_at = asyncio.run(scenario())
    assert not [e for e in events if e["type"] == "error"], events
    after = frames[interrupted_at + IN_TRANSIT_FRAMES :]
    segments = [segment for segment, _ in after]
    assert 1 not in segments, "the cut speech is not shown after the interrupt"
    assert segments[0] == NO_SEGMENT  # the idle face follows at once
    idle_after = [jpeg for segment, jpeg in after[: segments.index(2)]]
    assert len(idle_after) >= 25
    rest = [a for a in (_aperture(judge, j) for j in idle_after) if a is not None]
    before = [a for a in (_aperture(judge, j) for _, j in frames[:5]) if a is not None]
    assert len(rest) >= 0.9 * len(idle_after) and before
    # The mouth at rest as before the speech, from the first idle frame on.
    assert max(rest) <= max(before) + 0.03, (rest, before)
    spoken_first = [a for s, j in frames if s == 1 if (a := _aperture(judge, j)) is not None]
    assert max(spoken_first) > max(before) + 0.05  # it did speak before the cut
    # The session goes on: the next turn is rendered whole on the same remote session.
    second = [jpeg for segment, jpeg in frames if segment == 2]
    assert abs(len(second) - 50) <= 1
    apertures = [a for a in (_aperture(judge, j) for j in second) if a is not None]
    assert len(apertures) >= 45 and max(apertures) - min(apertures) > 0.05


def _remote_latency_samples(server) -> dict[str, float]:
    """The remote latency histograms' counts and sums for the omnirt engine."""
    with server.client() as client:
        text = client.get("/metrics").text
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name.startswith("headcast_remote_"):
            for sample in family.samples:
                if sample.name.endswith(("_count", "_sum")) and sample.labels == {
                    "engine": "omnirt"
                }:
                    found[sample.name] = sample.value
    return found


def test_cancel_drops_the_remotes_queue_and_the_session_goes_on(omnirt_remote, speech_pcm):
    url = realtime_url(omnirt_remote.port)
    avatar = prepare_avatar(SAMPLES / "astronaut.png", 256)
    session = OmniRTEngine(RemoteEndpoint(url, timeout_s=20)).start(avatar)
    try:
        speech = speech_pcm[16000:] / 32768
        spoken = []
        for i in range(48):  # 1.92 s: four chunks, none answered yet when cancelled
            samples = speech[i * 640 : (i + 1) * 640].astype(np.float32)
            frame = silent_frame(i, 16000, 25, 0)
            spoken.append(session.submit(FrameAudio(samples, frame.lookahead, 1, i)))
        back = [future.done() for future in spoken]  # answered before the cancel: kept
        session.cancel()
        idle = [session.submit(silent_frame(48 + i, 16000, 25, 0)) for i in range(24)]
        session.flush()
        images = [future.result(timeout=30) for future in idle]
    finally:
        session.close()
    dropped = [future for future, was_back in zip(spoken, back, strict=True) if not was_back]
    assert len(dropped) >= 36 and all(future.cancelled() for future in dropped)
    assert all(image.shape == (256, 256, 3) for image in images)


def test_a_remote_sessions_latencies_reach_the_metrics(omnirt_front, speech_pcm):
    start = {"type": "start", "image_b64": portrait_b64(), "size": 256, "engine": "omnirt"}
    turn = speech_pcm[16000:32000]  # one second

    async def session():
        events: list[dict] = []
        async with connect(omnirt_front.base_url.replace("http", "ws") + "/v1/stream") as ws:
            await ws.send(json.dumps(start))
            await ws.send(turn.tobytes())
            await ws.send(json.dumps({"type": "end_segment"}))
            async for message in ws:
                if isinstance(message, str):
                    events.append(json.loads(message))
                    if events[-1]["type"] in ("segment_finished", "error"):
                        break
            await ws.send(json.dumps({"type": "close"}))
        return events

    before = _remote_latency_samples(omnirt_front)
    events = asyncio.run(asyncio.wait_for(session(), 60))
    assert events[-1]["type"] == "segment_finished", events
    after = _remote_latency_samples(omnirt_front)

    def grew(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    assert grew("headcast_remote_first_frame_seconds_count") == 1
    # Connecting, session.create and a chunk's round trip: more than nothing, under a minute.
    assert 0 < grew("headcast_remote_first_frame_seconds_sum") < 60
    chunks = grew("headcast_remote_chunk_seconds_count")
    assert chunks >= 3  # the speech's 1 s and the idle frames around it, in 0.48 s chunks
    assert 0 < grew("headcast_remote_chunk_seconds_sum") / chunks < 10


def test_a_server_that_could_not_be_reached_is_tried_again_after_a_wait():
    backoff = ReconnectBackoff()
    url = "ws://127.0.0.1:9/v1/avatar/realtime"
    assert backoff.refusal(url) is None
    backoff.failed(url, "refused the connection (is it running?)")
    refusal = backoff.refusal(url)
    assert refusal is not None and refusal.startswith("refused the connection (is it running?)")
    assert "the next try is in" in refusal
    assert backoff.refusal("ws://127.0.0.1:10/v1/avatar/realtime") is None  # by server
    backoff.succeeded(url)
    assert backoff.refusal(url) is None


def test_new_sessions_use_the_remote_once_it_is_back(tmp_path):
    port = free_port()
    url = f"ws://127.0.0.1:{port}/v1/avatar/realtime"
    front = ServeProcess(tmp_path / "data", env={"HEADCAST_ENGINE_URL": url}).wait_ready()
    start = {"type": "start", "image_b64": portrait_b64(), "size": 256, "engine": "omnirt"}
    stream_url = front.base_url.replace("http", "ws") + "/v1/stream"

    async def session() -> list[dict]:
        """Until the first frame, an error or the end."""
        events: list[dict] = []
        async with connect(stream_url) as ws:
            await ws.send(json.dumps(start))
            async for message in ws:
                if not isinstance(message, str):
                    events.append({"type": "frame"})
                    break
                events.append(json.loads(message))
                if events[-1]["type"] == "error":
                    break
        return events

    remote = None
    try:
        events = asyncio.run(asyncio.wait_for(session(), 60))
        error = events[-1]
        assert error["type"] == "error", events
        assert url in error["message"] and "refused the connection" in error["message"]
        (tmp_path / "remote").mkdir()
        remote = ServeProcess(tmp_path / "remote" / "data", port=port).wait_ready()
        # New sessions wait out the back-off (at most 8 s), then reach the remote.
        outcomes = []
        for _ in range(20):
            events = asyncio.run(asyncio.wait_for(session(), 60))
            outcomes.append(events[-1])
            if events[-1]["type"] == "frame":
                break
            assert "the next try is in" in events[-1]["message"], events
            time.sleep(0.5)
        assert outcomes[-1]["type"] == "frame", outcomes
        assert front.process.poll() is None  # the same headcast, never restarted
    finally:
        front.stop()
        if remote is not None:
            remote.stop()
