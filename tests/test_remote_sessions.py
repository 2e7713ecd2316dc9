"""Live sessions beyond ``/v1/stream`` rendered by the "omnirt" engine, with headcast's own
``/v1/avatar/realtime`` in another process as the remote: a WebRTC peer sees the remote's face
speak in sync with the voice it hears, and an interrupt silences voice and mouth within half a
second; the front's own ``/v1/avatar/realtime`` passes each chunk on to the remote and answers
with the right number of frames."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import cv2
import httpx
import numpy as np
import pytest
from websockets.asyncio.client import connect

from tests.conftest import portrait_b64
from tests.support.omnirt_frames import vidx_jpegs
from tests.support.remote_serve import REALTIME_PATH, remote_chunks_answered
from tests.support.webrtc_sync import apertures, best_lag_frames
from tests.test_webrtc import MAX_LAG_FRAMES, RATE, SIZE, Peer, interrupted_speech
from tests.test_webrtc import connect as connect_peer


@dataclass
class WebRtcRun:
    """What a WebRTC peer of an "omnirt" session received: idle, speech, an interrupt."""

    peer: Peer
    idle_until: float
    interrupted: float
    answered: float
    said: httpx.Response
    chunks_answered: int  # by the remote, while it ran


@pytest.fixture(scope="module")
def webrtc_run(omnirt_front) -> WebRtcRun:
    chunks_before = remote_chunks_answered(omnirt_front)

    async def scenario():
        async with httpx.AsyncClient(base_url=omnirt_front.base_url, timeout=60) as http:
            peer = await connect_peer(http, engine="omnirt")
            return peer, *await interrupted_speech(http, peer, timeout_s=30)

    run = asyncio.run(scenario())
    return WebRtcRun(*run, remote_chunks_answered(omnirt_front) - chunks_before)


def test_a_webrtc_session_on_the_remote_speaks_in_sync(webrtc_run, judge):
    run, peer = webrtc_run, webrtc_run.peer
    assert run.said.status_code == 200 and run.said.json()["queued_s"] > 0
    # Rendered on the remote: about a chunk per 0.48 s the session ran.
    ran_s = peer.pictures[-1][0] - peer.pictures[0][0]
    assert run.chunks_answered >= ran_s / 0.48 - 2
    assert peer.audio_rates == {RATE}
    assert all(image.shape == (SIZE, SIZE, 3) for _, image in peer.pictures)
    # Idle before speech: silent audio, a face with the mouth at rest.
    assert peer.loud_since(0) - peer.loud_since(run.idle_until) == 0
    mouth = apertures(judge, [p for p in peer.pictures if p[0] <= run.interrupted])
    assert len(mouth) >= 0.9 * sum(1 for p in peer.pictures if p[0] <= run.interrupted)
    assert mouth[mouth[:, 0] < run.idle_until, 1].max() < 0.05
    # Speaking: the mouth opens and its movement follows the sound it arrives with.
    assert mouth[:, 1].max() > 0.1
    lag, correlation = best_lag_frames(
        [p for p in peer.packets if run.idle_until <= p[0] <= run.interrupted],
        mouth[mouth[:, 0] >= run.idle_until],
        MAX_LAG_FRAMES,
    )
    assert abs(lag) <= 2 and correlation > 0.3, (lag, correlation)


def test_an_interrupt_silences_a_webrtc_session_on_the_remote(webrtc_run, judge):
    run, peer = webrtc_run, webrtc_run.peer
    # The voice stops and the mouth closes within half a second, and pictures keep coming.
    assert peer.loud_since(run.answered + 0.5) == 0
    late = [(at, img) for at, img in peer.pictures if at > run.answered + 0.5]
    assert len(late) > 20 and apertures(judge, late)[:, 1].max() < 0.05


def test_the_fronts_realtime_endpoint_renders_on_the_remote(omnirt_front, speech_pcm, judge):
    """0.3125 s chunks at 25 fps are 7.8125 frames: 7s and 8s that add up exactly."""
    chunk, chunks = 5000, 10
    create = {
        "type": "session.create",
        "model": "any",
        "inputs": {"image_b64": portrait_b64()},
        "config": {"engine": "omnirt", "width": 192, "height": 256, "chunk_samples": chunk},
    }
    speech = speech_pcm[16000:]  # a second in: the speaker is talking
    chunks_before = remote_chunks_answered(omnirt_front)

    async def scenario():
        counts, metrics, jpegs = [], [], []
        url = omnirt_front.base_url.replace("http", "ws") + REALTIME_PATH
        async with connect(url, max_size=2**24) as ws:
            await ws.send(json.dumps(create))
            created = json.loads(await ws.recv())
            assert created["type"] == "session.created", created
            for k in range(chunks):
                await ws.send(b"AUDI" + speech[k * chunk : (k + 1) * chunk].tobytes())
                metrics.append(json.loads(await asyncio.wait_for(ws.recv(), 30)))
                frames = vidx_jpegs(await ws.recv())
                counts.append(len(frames))
                jpegs += frames
            await ws.send(json.dumps({"type": "session.close"}))
            closed = json.loads(await ws.recv())
        return created, counts, metrics, jpegs, closed

    created, counts, metrics, jpegs, closed = asyncio.run(asyncio.wait_for(scenario(), 120))
    assert created["audio"]["chunk_samples"] == chunk
    assert created["video"]["width"] == 192 and created["video"]["height"] == 256
    assert sum(counts) == chunks * chunk * 25 // 16000 == 78
    assert set(counts) == {7, 8}
    assert [m["type"] for m in metrics] == ["metrics"] * chunks
    assert [m["frames"] for m in metrics] == counts
    assert closed == {"type": "session.closed", "session_id": created["session_id"]}
    # Rendered on the remote, in its 0.48 s chunks: 3.125 s of speech is at least six.
    assert remote_chunks_answered(omnirt_front) - chunks_before >= 6
    images = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR) for j in jpegs]
    assert all(image.shape == (256, 192, 3) for image in images)
    mouth = [m.aperture for m in (judge.measure(i[:, :, ::-1]) for i in images) if m]
    assert len(mouth) >= 0.9 * len(images)
    assert max(mouth) - min(mouth) > 0.05  # the mouth moves with the speech
