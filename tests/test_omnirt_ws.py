"""/v1/avatar/realtime: OpenTalking's FlashHead client against a real server, and the
OmniRT protocol's errors."""

from __future__ import annotations

import asyncio
import base64
import json

import cv2
import numpy as np
from opentalking.providers.synthesis.flashhead import FlashHeadWSClient
from websockets.asyncio.client import connect

from headcast.server.state import app_state
from tests.conftest import MEDIA, portrait_b64
from tests.support.omnirt_frames import vidx_jpegs
from tests.support.servers import server_fixture

SIZE = 256
MAX_UPLOAD_BYTES = 300_000


server = server_fixture(max_upload_bytes=MAX_UPLOAD_BYTES)


def _url(server) -> str:
    return server.ws_url + "/v1/avatar/realtime"


def _create_message(config: dict) -> str:
    return json.dumps(
        {
            "type": "session.create",
            "model": "any",
            "inputs": {"image_b64": portrait_b64()},
            "config": config,
        }
    )


def test_flashhead_client_runs_a_whole_session(server, speech_pcm, judge):
    async def scenario():
        client = FlashHeadWSClient(
            _url(server), config={"fps": 25, "sample_rate": 16000, "width": SIZE, "height": SIZE}
        )
        created = await client.init_session(MEDIA / "obama.jpg")
        live_during = len(app_state(server.app).live_sessions)
        chunk = client.audio_chunk_samples
        start = 16000  # a second in: the speaker is talking
        results = []
        for k in range(4):
            results.append(
                await client.generate(speech_pcm[start + k * chunk : start + (k + 1) * chunk])
            )
        await client.close()
        return created, live_during, chunk, results

    created, live_during, chunk, results = asyncio.run(scenario())
    assert created["type"] == "session.created"
    assert created["audio"] == {
        "format": "pcm_s16le", "sample_rate": 16000, "channels": 1, "chunk_samples": chunk,
    }  # fmt: skip
    assert created["video"]["wire_magic"] == "VIDX" and created["video"]["encoding"] == "jpeg-seq"
    assert chunk == 7680  # 0.48 s: 12 frames at 25 fps
    assert live_during == 1
    assert [len(frames) for frames in results] == [12, 12, 12, 12]
    frames = [f.data for chunk_frames in results for f in chunk_frames]
    assert all(f.shape == (SIZE, SIZE, 3) for f in frames)
    apertures = [m.aperture for m in (judge.measure(f[:, :, ::-1]) for f in frames) if m]
    assert len(apertures) >= 45  # a face in (nearly) every frame
    assert max(apertures) - min(apertures) > 0.05  # the mouth moves with the speech
    _wait_for(lambda: len(app_state(server.app).live_sessions) == 0)


def test_frames_per_chunk_carry_the_remainder(server, speech_pcm):
    """0.3125 s chunks at 30 fps are 9.375 frames: 9s and 10s that add up exactly."""
    chunk = 5000

    async def scenario():
        counts, metrics = [], []
        async with connect(_url(server), max_size=2**24) as ws:
            await ws.send(_create_message({"fps": 30, "width": 192, "height": 256, "chunk_samples": chunk, "future_key": 1}))  # fmt: skip
            created = json.loads(await ws.recv())
            for k in range(8):
                await ws.send(b"AUDI" + speech_pcm[k * chunk : (k + 1) * chunk].tobytes())
                metrics.append(json.loads(await ws.recv()))
                jpegs = vidx_jpegs(await ws.recv())
                counts.append(len(jpegs))
            image = cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR)
        return created, counts, metrics, image

    created, counts, metrics, image = asyncio.run(scenario())
    assert created["audio"]["chunk_samples"] == chunk
    assert created["video"]["width"] == 192 and created["video"]["height"] == 256
    assert image.shape == (256, 192, 3)  # cut from the middle of the square render
    assert sum(counts) == 8 * chunk * 30 // 16000 == 75
    assert set(counts) == {9, 10}
    assert [m["type"] for m in metrics] == ["metrics"] * 8
    assert [m["frames"] for m in metrics] == counts


def test_protocol_errors_are_answered_and_the_session_survives(server, speech_pcm):
    async def scenario():
        seen = {}
        async with connect(_url(server), max_size=2**24) as ws:

            async def ask(message) -> dict:
                await ws.send(message)
                return json.loads(await ws.recv())

            seen["audio_first"] = await ask(b"AUDI" + bytes(12800))
            seen["bad_json"] = await ask("{not json")
            seen["unknown"] = await ask(json.dumps({"type": "session.dance"}))
            seen["ping"] = await ask(json.dumps({"type": "ping"}))
            seen["no_image"] = await ask(json.dumps({"type": "session.create", "inputs": {}}))
            seen["bad_b64"] = await ask(
                json.dumps({"type": "session.create", "inputs": {"image_b64": "@@@"}})
            )
            seen["bad_config"] = await ask(_create_message({"fps": "fast"}))
            seen["bad_head_motion"] = await ask(_create_message({"head_motion": "lots"}))
            created = await ask(_create_message({"width": SIZE, "height": SIZE}))
            chunk = created["audio"]["chunk_samples"]
            seen["bad_magic"] = await ask(b"AUDX" + speech_pcm[:chunk].tobytes())
            seen["short"] = await ask(b"AUDI" + speech_pcm[: chunk - 1].tobytes())
            seen["too_large"] = await ask("x" * (2 * MAX_UPLOAD_BYTES))
            # The session is still there: a good chunk gets its frames.
            await ws.send(b"AUDI" + speech_pcm[:chunk].tobytes())
            seen["metrics"] = json.loads(await ws.recv())
            seen["frames"] = len(vidx_jpegs(await ws.recv()))
            seen["cancel"] = await ask(json.dumps({"type": "session.cancel"}))
            await ws.send(b"AUDI" + speech_pcm[chunk : 2 * chunk].tobytes())
            seen["metrics_after_cancel"] = json.loads(await ws.recv())
            seen["after_cancel"] = len(vidx_jpegs(await ws.recv()))
            seen["close"] = await ask(json.dumps({"type": "session.close"}))
            seen["live_after_close"] = len(app_state(server.app).live_sessions)
        return created, seen

    created, seen = asyncio.run(scenario())
    codes = {k: v.get("code") for k, v in seen.items() if isinstance(v, dict)}
    assert codes["audio_first"] == "session_required"
    assert codes["bad_json"] == "bad_json"
    assert codes["unknown"] == "unsupported_message"
    assert seen["ping"] == {"type": "pong"}
    assert codes["no_image"] == "missing_image"
    assert codes["bad_b64"] == "bad_image_base64"
    assert codes["bad_config"] == "bad_request"
    assert codes["bad_head_motion"] == "bad_request"
    assert seen["bad_head_motion"]["message"].startswith("head_motion must be a number")
    assert created["type"] == "session.created"
    assert codes["bad_magic"] == "bad_audio_magic"
    assert codes["short"] == "bad_audio_chunk" and "15360 bytes" in seen["short"]["message"]
    assert codes["too_large"] == "message_too_large"
    assert all(seen[k]["type"] == "error" and seen[k]["message"] for k in ("bad_json", "short"))
    assert seen["metrics"]["type"] == "metrics" and seen["frames"] == 12
    assert seen["cancel"] == {"type": "session.cancelled", "session_id": created["session_id"]}
    # Cancel drops the queued speech; the session goes on with the next chunk.
    assert seen["metrics_after_cancel"]["type"] == "metrics" and seen["after_cancel"] == 12
    assert seen["close"] == {"type": "session.closed", "session_id": created["session_id"]}
    assert seen["live_after_close"] == 0


def test_a_photo_without_a_face_is_refused_in_protocol_terms(server):
    async def scenario():
        async with connect(_url(server), max_size=2**24) as ws:
            _, png = cv2.imencode(".png", np.full((300, 300, 3), 90, np.uint8))
            image = base64.b64encode(png.tobytes()).decode()
            await ws.send(json.dumps({"type": "session.create", "inputs": {"image_b64": image}}))
            return json.loads(await ws.recv())

    reply = asyncio.run(scenario())
    assert reply["type"] == "error" and reply["code"] == "bad_image"
    assert "face" in reply["message"]


def _wait_for(condition, timeout_s: float = 5.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)
