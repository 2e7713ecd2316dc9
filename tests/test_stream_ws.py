"""/v1/stream on a real server: JPEG + PCM and fragmented MP4 output, turns, interrupt,
attaching an audio feed to a session, disconnects, protocol errors and API keys."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import struct
import time
from dataclasses import dataclass, field

import av
import cv2
import numpy as np
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from headcast.audio import load_audio
from headcast.server.state import app_state
from tests.conftest import clip_wav, portrait_b64
from tests.support.servers import running_server, server_config, server_fixture
from tests.support.waiting import until

SIZE = 256
FPS = 25
FRAME_HEADER = struct.Struct("<4sIdiII")
CHUNK_SAMPLES = 1600  # 100 ms pushes


server = server_fixture()


def _start(**fields) -> str:
    return json.dumps({"type": "start", "image_b64": portrait_b64(), "size": SIZE, **fields})


@dataclass
class Frame:
    index: int
    pts_s: float
    segment: int | None
    jpeg: bytes
    pcm: np.ndarray


@dataclass
class Received:
    """Everything a client got, in order."""

    frames: list[Frame] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    frames_at_pong: int = 0

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("type") == kind]


async def _collect(ws, received: Received, jpeg: bool = True) -> None:
    try:
        async for message in ws:
            if isinstance(message, str):
                received.events.append(json.loads(message))
                if received.events[-1]["type"] == "pong":
                    received.frames_at_pong = len(received.frames)
            elif jpeg:
                magic, index, pts, segment, jpeg_len, pcm_len = FRAME_HEADER.unpack_from(message)
                assert magic == b"HCFR"
                body = message[FRAME_HEADER.size :]
                assert len(body) == jpeg_len + pcm_len
                pcm = np.frombuffer(body[jpeg_len:], "<i2")
                received.frames.append(
                    Frame(index, pts, None if segment < 0 else segment, body[:jpeg_len], pcm)
                )
            else:
                received.blobs.append(message)
    except ConnectionClosed:
        pass


async def _push(ws, pcm: np.ndarray) -> None:
    for start in range(0, len(pcm), CHUNK_SAMPLES):
        await ws.send(pcm[start : start + CHUNK_SAMPLES].tobytes())


def test_jpeg_stream_turns_positions_and_interrupt(server, speech_pcm):
    turn = speech_pcm[16000:32000]  # one second of speech

    async def scenario():
        got = Received()
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as ws:
            await ws.send(_start())
            started = json.loads(await ws.recv())
            reader = asyncio.create_task(_collect(ws, got))
            await until(lambda: len(got.frames) >= 5)  # idle frames before anyone speaks
            await _push(ws, turn)
            await ws.send(json.dumps({"type": "end_segment"}))
            await until(lambda: got.of("segment_finished"))
            await _push(ws, speech_pcm[32000:80000])  # three seconds more...
            await until(lambda: sum(f.segment == 2 for f in got.frames) >= 10)
            await ws.send(json.dumps({"type": "interrupt"}))  # ...cut short
            # Messages are handled in order: the pong means the interrupt has been applied.
            await ws.send(json.dumps({"type": "ping"}))
            await until(lambda: got.of("pong"))
            interrupted_at = got.frames_at_pong
            await until(lambda: len(got.frames) >= interrupted_at + 8)
            live_during = len(app_state(server.app).live_sessions)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
        return started, got, interrupted_at, live_during

    started, got, interrupted_at, live_during = asyncio.run(scenario())
    assert started["type"] == "started" and not started["attached"]
    assert (started["fps"], started["width"], started["height"]) == (FPS, SIZE, SIZE)
    assert started["audio_out"] == {"format": "pcm_s16le", "sample_rate": 16000, "channels": 1}
    assert live_during == 1
    frames = got.frames
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(abs(f.pts_s - f.index / FPS) < 1e-9 for f in frames)
    assert all(len(f.pcm) == 640 for f in frames)
    assert all(f.segment is None for f in frames[:5])
    assert not any(f.pcm.any() for f in frames if f.segment is None)  # idle frames are silent
    # The first turn comes back whole: its frames carry its audio, in order.
    first = [f for f in frames if f.segment == 1]
    assert abs(len(first) - 25) <= 1
    played = np.concatenate([f.pcm for f in first])[: len(turn)].astype(np.float64)
    env = lambda x: np.abs(x[: len(x) // 320 * 320]).reshape(-1, 320).mean(1)  # noqa: E731
    assert np.corrcoef(env(played), env(turn[: len(played)].astype(np.float64)))[0, 1] > 0.9
    assert got.of("segment_finished")[0]["segment"] == 1
    # Positions tell how much of each turn was played, to the frame, the interrupted one too.
    finals = {p["segment"]: p for p in got.of("position") if p["segment"] is not None}
    assert abs(finals[1]["segment_audio_s"] - len(first) / FPS) < 1e-6
    second = [f for f in frames if f.segment == 2]
    assert finals[2]["frame"] == second[-1].index
    assert abs(finals[2]["segment_audio_s"] - len(second) / FPS) < 1e-6
    # Interrupt: at most one more speaking frame (the one being sent), then idle and silent.
    after = frames[interrupted_at:]
    assert sum(f.segment == 2 for f in after) <= 1
    assert sum(f.segment == 2 for f in frames) < 60  # three seconds were cut short
    assert all(f.segment is None and not f.pcm.any() for f in after[1:])
    assert not [e for e in got.of("segment_finished") if e["segment"] == 2]
    image = cv2.imdecode(np.frombuffer(frames[-1].jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (SIZE, SIZE, 3)
    assert got.events[-1] == {"type": "closed"}
    assert len(app_state(server.app).live_sessions) == 0


def test_fmp4_stream_decodes_to_video_and_audio(server, speech_pcm):
    async def scenario():
        got = Received()
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as ws:
            await ws.send(_start(output="fmp4", sample_rate=16000))
            started = json.loads(await ws.recv())
            reader = asyncio.create_task(_collect(ws, got, jpeg=False))
            await _push(ws, speech_pcm[16000:40000])
            await ws.send(json.dumps({"type": "end_segment"}))
            await until(lambda: got.of("segment_finished"))
            last = got.of("position")[-1]["frame"]
            await until(lambda: got.of("position")[-1]["frame"] >= last + 10)
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
        return started, got

    started, got = asyncio.run(scenario())
    assert started["output"] == "fmp4"
    assert started["mime"].startswith('video/mp4; codecs="avc1.') and "mp4a.40.2" in started["mime"]
    data = b"".join(got.blobs)
    assert data[4:8] == b"ftyp"
    sent = got.of("position")[-1]["frame"] + 1
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0]
        assert (video.codec_context.name, video.width, video.height) == ("h264", SIZE, SIZE)
        assert (audio.codec_context.name, audio.sample_rate) == ("aac", 48000)
        images = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    with av.open(io.BytesIO(data)) as container:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
    # The stream runs a frame or two behind what was sent when it stopped.
    assert sent - 3 <= len(images) <= sent
    assert abs(len(samples) / 48000 - len(images) / FPS) < 0.15
    assert np.abs(samples).max() > 0.05  # the speech is in it
    assert images[-1].std() > 20  # a picture, not a blank


def test_disconnect_mid_stream_frees_the_session(server, speech_pcm):
    async def scenario():
        ws = await connect(server.ws_url + "/v1/stream", max_size=2**24)
        await ws.send(_start())
        await ws.recv()
        await _push(ws, speech_pcm[:32000])
        await asyncio.sleep(0.3)
        during = len(app_state(server.app).live_sessions)
        ws.transport.abort()  # gone without a word
        return during

    assert asyncio.run(scenario()) == 1
    deadline = time.monotonic() + 5
    while len(app_state(server.app).live_sessions):
        assert time.monotonic() < deadline, "the session outlived its socket"
        time.sleep(0.05)


def test_audio_feed_attaches_to_a_session_by_id(server, speech_pcm):
    async def scenario():
        shown = Received()
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as viewer:
            await viewer.send(_start())
            session_id = json.loads(await viewer.recv())["session_id"]
            reader = asyncio.create_task(_collect(viewer, shown))
            async with connect(server.ws_url + "/v1/stream") as feed:
                await feed.send(json.dumps({"type": "start", "session_id": "nope"}))
                missing = json.loads(await feed.recv())
                await feed.send(json.dumps({"type": "start", "session_id": session_id, "sample_rate": 24000}))  # fmt: skip
                attached = json.loads(await feed.recv())
                audio = load_audio(clip_wav("0870"), sample_rate=24000).samples[24000:48000]
                await feed.send((np.clip(audio * 32767, -32768, 32767)).astype("<i2").tobytes())
                await feed.send(json.dumps({"type": "end_segment"}))
                await until(lambda: shown.of("segment_finished"))
                async with connect(server.ws_url + "/v1/stream") as second_feed:
                    await second_feed.send(json.dumps({"type": "start", "session_id": session_id}))  # fmt: skip
                    await second_feed.recv()
                    await second_feed.send(json.dumps({"type": "close"}))
                    second_closed = json.loads(await second_feed.recv())
                live_after_feed = len(app_state(server.app).live_sessions)
                await viewer.send(json.dumps({"type": "close"}))  # the owner ends the session
                await asyncio.wait_for(reader, 10)
                await feed.send(bytes(640))
                orphaned = json.loads(await feed.recv())
        return missing, attached, second_closed, shown, live_after_feed, orphaned

    missing, attached, feed_closed, shown, live_after_feed, orphaned = asyncio.run(scenario())
    assert missing["code"] == "no_such_session"
    assert attached["type"] == "started" and attached["attached"] and attached["output"] == "none"
    assert attached["audio_in"]["sample_rate"] == 24000
    assert feed_closed == {"type": "closed"}
    assert live_after_feed == 1  # the feed leaving does not end the session it fed
    speaking = [f for f in shown.frames if f.segment is not None]
    assert abs(len(speaking) - 25) <= 1
    assert orphaned["code"] == "no_such_session"


def test_protocol_errors_leave_the_stream_running(server):
    async def scenario():
        replies = {}
        async with connect(server.ws_url + "/v1/stream", max_size=2**24) as ws:

            async def ask(message) -> dict:
                await ws.send(message)
                while True:  # frames and positions may come in between
                    reply = await ws.recv()
                    if isinstance(reply, str) and json.loads(reply)["type"] != "position":
                        return json.loads(reply)

            replies["audio_first"] = await ask(bytes(640))
            replies["interrupt_first"] = await ask(json.dumps({"type": "interrupt"}))
            replies["bad_json"] = await ask("{oops")
            replies["not_object"] = await ask("[1, 2]")
            replies["unknown"] = await ask(json.dumps({"type": "dance"}))
            replies["bad_output"] = await ask(_start(output="gif"))
            replies["bad_size"] = await ask(_start(size=255))
            replies["bad_head_motion"] = await ask(_start(head_motion="lots"))
            replies["no_image"] = await ask(json.dumps({"type": "start"}))
            replies["started"] = await ask(_start(head_motion=0.25))
            replies["again"] = await ask(_start())
            replies["odd_bytes"] = await ask(bytes(641))
            replies["ping"] = await ask(json.dumps({"type": "ping"}))
        return replies

    replies = asyncio.run(scenario())
    codes = {k: r.get("code") for k, r in replies.items()}
    assert codes["audio_first"] == "not_started"
    assert codes["interrupt_first"] == "not_started"
    assert codes["bad_json"] == "bad_json" and codes["not_object"] == "bad_json"
    assert codes["unknown"] == "unsupported_message"
    assert codes["bad_output"] == "bad_request" and "output" in replies["bad_output"]["message"]
    assert codes["bad_size"] == "bad_request" and "even" in replies["bad_size"]["message"]
    assert codes["bad_head_motion"] == "bad_request"
    assert replies["bad_head_motion"]["message"].startswith("head_motion must be a number")
    assert codes["no_image"] == "missing_image"
    assert replies["started"]["type"] == "started"
    assert codes["again"] == "already_started"
    assert codes["odd_bytes"] == "bad_audio"
    assert replies["ping"] == {"type": "pong"}


@pytest.mark.parametrize("path", ["/v1/stream", "/v1/avatar/realtime"])
def test_api_key_is_required_when_keys_are_configured(tmp_path, path):
    config = server_config(tmp_path, api_keys=("sesame",))

    async def scenario(url) -> dict:
        ws = await connect(url)
        with contextlib.suppress(ConnectionClosed):  # a refused socket may be closed already
            await ws.send(json.dumps({"type": "ping"}))
        reply = json.loads(await ws.recv())  # what came before any close is still delivered
        await ws.close()
        return reply

    with running_server(config) as server:
        refused = asyncio.run(scenario(server.ws_url + path))
        wrong = asyncio.run(scenario(server.ws_url + path + "?api_key=guess"))
        allowed = asyncio.run(scenario(server.ws_url + path + "?api_key=sesame"))
    for reply in (refused, wrong):
        assert reply["type"] == "error" and reply["code"] == "unauthorized"
    assert allowed == {"type": "pong"}
