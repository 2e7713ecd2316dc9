"""An avatar enrolled from a video through the service: uploaded to ``POST /v1/avatars``,
followed to ready, listed with its coverage report, rendered through ``POST /animate``, a job,
``/v1/stream`` and the OmniRT endpoint, kept from other callers, and deleted with its files.

One enrolment of the shipped GRID clip (15 s of one speaker) serves the whole module.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from PIL import Image
from websockets.asyncio.client import connect

from headcast.server.state import app_state
from tests.conftest import MEDIA, clip_text, clip_wav
from tests.support.enrol_clips import GRID_TRANSCRIPT, clip_too_short, clip_without_face, grid_clip
from tests.support.jobs import wait_for_job
from tests.support.servers import running_server, server_config, server_fixture
from tests.support.video_probe import probe_video
from tests.support.waiting import until

SIZE = 256
FPS = 25
SPEECH = "0880"  # LibriVox, about 3 s
ENROL_TIMEOUT_S = 300.0  # 15 s of video; about 15 s on two idle cores, slower when shared
FRAME_HEADER = struct.Struct("<4sIdiII")  # /v1/stream's: magic, index, pts, segment, lengths

server = server_fixture(api_keys=("alice", "bob"), rate_limit_per_min=0)


def _client(server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=120)


def _upload_video(client: httpx.Client, path: Path, **form: str) -> httpx.Response:
    with path.open("rb") as video:
        return client.post("/v1/avatars", files={"video": (path.name, video, "video/mp4")},
                           data=form)  # fmt: skip


def _follow(client: httpx.Client, avatar_id: str, until_status: set[str]) -> tuple[dict, list]:
    """Poll the avatar until its status is one of ``until_status``; it and the progress seen."""
    seen: list[float] = []
    deadline = time.monotonic() + ENROL_TIMEOUT_S
    while True:
        avatar = client.get(f"/v1/avatars/{avatar_id}").json()
        if avatar["status"] in until_status:
            return avatar, seen
        assert avatar["status"] == "enrolling", avatar
        seen.append(avatar["progress"])
        assert time.monotonic() < deadline, f"still enrolling after {ENROL_TIMEOUT_S} s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def enrolled(server) -> dict:
    """The GRID clip, enrolled through the API: the 202 answer, the ready avatar, and the
    progress seen on the way."""
    alice = _client(server, "alice")
    accepted = _upload_video(alice, grid_clip(), text=GRID_TRANSCRIPT)
    assert accepted.status_code == 202, accepted.text
    ready, progress = _follow(alice, accepted.json()["id"], {"ready", "failed"})
    assert ready["status"] == "ready", ready
    return {"accepted": accepted, "ready": ready, "progress": progress}


def _avatar_files(server, avatar_id: str) -> list[Path]:
    return list((server.config.data_dir / "avatars").glob(f"*{avatar_id}*"))


def test_a_video_is_enrolled_as_a_job_and_listed_with_its_coverage(server, enrolled):
    accepted, avatar = enrolled["accepted"], enrolled["ready"]
    first = accepted.json()
    assert accepted.headers["location"] == f"/v1/avatars/{first['id']}"
    assert first["kind"] == "enrolled" and first["status"] == "enrolling"
    assert (first["width"], first["height"]) == (360, 288)  # the video's frames
    assert first["coverage"] is None and first["job_id"]
    progress = enrolled["progress"]
    assert progress == sorted(progress), "progress only goes forward"
    assert any(0 < p < 100 for p in progress), "progress is reported while enrolling"

    alice = _client(server, "alice")
    coverage = avatar["coverage"]
    assert avatar["kind"] == "enrolled" and avatar["error"] is None
    assert 10.0 < coverage["usable_s"] <= coverage["duration_s"] <= 15.1
    assert coverage["has_speech"] and coverage["frames"] >= 370
    assert "closed" in coverage["shapes_covered"] and isinstance(coverage["script"], list)
    assert [a for a in alice.get("/v1/avatars").json()["avatars"] if a["id"] == avatar["id"]] == [
        avatar
    ]
    job = alice.get(f"/v1/jobs/{first['job_id']}").json()
    assert job["kind"] == "enrol" and job["state"] == "succeeded" and job["video_url"] is None
    assert alice.get(f"/v1/jobs/{job['id']}/video").status_code == 409

    image = alice.get(f"/v1/avatars/{avatar['id']}/image")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (
        server.config.default_size_px,
        server.config.default_size_px,
    )
    folder = server.config.data_dir / "avatars" / avatar["id"]
    assert (folder / "enrolled" / "enrolled.json").is_file()
    assert not (folder / "video").exists(), "the video goes once it is enrolled"


def _faces_and_mouths(judge, frames: list[np.ndarray]) -> tuple[int, float]:
    """How many frames show a face (dlib), and the range of their mouth openings."""
    measures = [m for m in (judge.measure(f) for f in frames) if m is not None]
    apertures = [m.aperture for m in measures]
    return len(measures), (max(apertures) - min(apertures)) if apertures else 0.0


def test_animate_and_a_job_render_the_enrolled_avatar(server, enrolled, judge):
    alice = _client(server, "alice")
    avatar_id = enrolled["ready"]["id"]
    speech = clip_wav(SPEECH).read_bytes()
    answer = alice.post(
        "/animate",
        files={"audio": ("speech.wav", speech, "audio/wav")},
        data={"avatar_id": avatar_id, "text": clip_text(SPEECH), "format": "mp4",
              "size": str(SIZE)},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    video = probe_video(answer.content)
    assert (video.width, video.height) == (SIZE, SIZE)
    assert abs(video.frames - video.audio_duration_s * FPS) <= 2
    faces, _ = _faces_and_mouths(judge, [video.middle_frame])
    assert faces == 1

    submitted = alice.post(
        "/v1/jobs",
        files={"audio": ("speech.wav", speech, "audio/wav")},
        data={"avatar_id": avatar_id, "size": str(SIZE), "text": clip_text(SPEECH)},
    )
    assert submitted.status_code == 202, submitted.text
    assert submitted.json()["engine"] == "enrolled", "the avatar's own engine by default"
    job = wait_for_job(alice, submitted.json()["id"])
    assert job["state"] == "succeeded", job
    rendered = probe_video(alice.get(job["video_url"]).content)
    assert (rendered.width, rendered.height, rendered.frames) == (SIZE, SIZE, video.frames)

    warped = alice.post(
        "/v1/jobs",
        files={"audio": ("speech.wav", speech, "audio/wav")},
        data={
            "avatar_id": avatar_id,
            "size": str(SIZE),
            "text": clip_text(SPEECH),
            "engine": "warp",
        },
    )
    assert warped.status_code == 202 and warped.json()["engine"] == "warp", "asked for: kept"
    assert wait_for_job(alice, warped.json()["id"])["state"] == "succeeded"


def _speaking_frames(messages: list[bytes]) -> list[np.ndarray]:
    """The frames of /v1/stream binary messages that carry speech, decoded to RGB."""
    frames = []
    for message in messages:
        magic, _index, _pts, segment, jpeg_len, _pcm_len = FRAME_HEADER.unpack_from(message)
        assert magic == b"HCFR"
        jpeg = message[FRAME_HEADER.size : FRAME_HEADER.size + jpeg_len]
        bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert bgr is not None, "every frame is a JPEG"
        if segment >= 0:
            frames.append(bgr[:, :, ::-1])
    return frames


def test_stream_renders_the_enrolled_avatar(server, enrolled, speech_pcm, judge):
    avatar_id = enrolled["ready"]["id"]
    start = {"type": "start", "avatar_id": avatar_id, "size": SIZE}
    url = server.ws_url + "/v1/stream?api_key=alice"

    async def scenario():
        binary: list[bytes] = []
        events: list[dict] = []
        async with connect(url, max_size=2**24) as ws:
            await ws.send(json.dumps(start))
            events.append(json.loads(await ws.recv()))
            live = app_state(server.app).live_sessions.get(events[0]["session_id"])
            enrolment = live.avatar.enrolment

            async def collect():
                async for message in ws:
                    if isinstance(message, bytes):
                        binary.append(message)
                    else:
                        events.append(json.loads(message))

            reader = asyncio.create_task(collect())
            turn = speech_pcm[16000:64000]  # three seconds of speech
            for at in range(0, len(turn), 1600):
                await ws.send(turn[at : at + 1600].tobytes())
            await ws.send(json.dumps({"type": "end_segment"}))
            await until(
                lambda: any(e.get("type") == "segment_finished" for e in events), timeout_s=60
            )
            await ws.send(json.dumps({"type": "close"}))
            await asyncio.wait_for(reader, 10)
        return events, binary, enrolment

    events, binary, enrolment = asyncio.run(scenario())
    assert events[0]["type"] == "started", events[0]
    assert (events[0]["width"], events[0]["height"]) == (SIZE, SIZE)
    assert enrolment is not None and enrolment.endswith("enrolled"), "drawn from its frames"
    speaking = _speaking_frames(binary)
    assert len(speaking) >= 70  # of the 75 the speech lasts
    faces, mouth_range = _faces_and_mouths(judge, speaking[::2])
    assert faces >= 0.9 * len(speaking[::2])
    assert mouth_range > 0.05, "the mouth moves with the speech"


def test_omnirt_endpoint_renders_the_enrolled_avatar(server, enrolled, speech_pcm, judge):
    avatar_id = enrolled["ready"]["id"]
    create = {
        "type": "session.create",
        "model": "any",
        "inputs": {"avatar_id": avatar_id},
        "config": {"fps": FPS, "sample_rate": 16000, "width": SIZE, "height": SIZE},
    }

    async def scenario():
        url = server.ws_url + "/v1/avatar/realtime?api_key=alice"
        jpegs: list[bytes] = []
        async with connect(url, max_size=2**24) as ws:
            await ws.send(json.dumps(create))
            created = json.loads(await ws.recv())
            chunk = created["audio"]["chunk_samples"]
            for k in range(4):
                pcm = speech_pcm[16000 + k * chunk : 16000 + (k + 1) * chunk]
                await ws.send(b"AUDI" + pcm.tobytes())
                assert json.loads(await ws.recv())["type"] == "metrics"
                payload = await ws.recv()
                count, offset = int.from_bytes(payload[4:8], "little"), 8
                for _ in range(count):
                    length = int.from_bytes(payload[offset : offset + 4], "little")
                    jpegs.append(payload[offset + 4 : offset + 4 + length])
                    offset += 4 + length
            await ws.send(json.dumps({"type": "session.close"}))
        return created, jpegs

    created, jpegs = asyncio.run(scenario())
    assert created["type"] == "session.created", created
    assert len(jpegs) == 48
    frames = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1] for j in jpegs]
    assert all(f.shape == (SIZE, SIZE, 3) for f in frames)
    faces, mouth_range = _faces_and_mouths(judge, frames)
    assert faces >= 45
    assert mouth_range > 0.05


def test_webrtc_offer_takes_the_enrolled_avatar(server, enrolled, judge):
    avatar_id = enrolled["ready"]["id"]

    async def scenario():
        pc = RTCPeerConnection()
        pc.addTransceiver("video", direction="recvonly")
        pc.addTransceiver("audio", direction="recvonly")
        tracks: dict[str, MediaStreamTrack] = {}
        pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
        await pc.setLocalDescription(await pc.createOffer())
        offer = {"sdp": pc.localDescription.sdp, "type": "offer", "size": SIZE,
                 "avatar_id": avatar_id}  # fmt: skip
        async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
            refused = await http.post("/v1/webrtc/offer", json=offer, headers={"X-API-Key": "bob"})
            reply = await http.post("/v1/webrtc/offer", json=offer, headers={"X-API-Key": "alice"})
            assert reply.status_code == 200, reply.text
            answer = reply.json()
            live = app_state(server.app).live_sessions.get(answer["session_id"])
            await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            pictures = []
            for _ in range(10):
                frame = await asyncio.wait_for(tracks["video"].recv(), 30)
                pictures.append(frame.to_ndarray(format="rgb24"))
        await pc.close()
        return refused, live.avatar.enrolment, pictures

    refused, enrolment, pictures = asyncio.run(scenario())
    assert refused.status_code == 404, "another caller's avatar is not found"
    assert enrolment is not None and enrolment.endswith("enrolled")
    assert all(p.shape == (SIZE, SIZE, 3) for p in pictures)
    faces, _ = _faces_and_mouths(judge, pictures[-3:])
    assert faces == 3


def test_another_caller_can_neither_see_nor_use_it(server, enrolled):
    bob = _client(server, "bob")
    avatar_id = enrolled["ready"]["id"]
    assert bob.get(f"/v1/avatars/{avatar_id}").status_code == 404
    assert avatar_id not in [a["id"] for a in bob.get("/v1/avatars").json()["avatars"]]
    assert bob.get(f"/v1/avatars/{avatar_id}/image").status_code == 404
    speech = clip_wav(SPEECH).read_bytes()
    for path in ("/animate", "/v1/jobs"):
        refused = bob.post(path, files={"audio": ("s.wav", speech, "audio/wav")},
                           data={"avatar_id": avatar_id})  # fmt: skip
        assert refused.status_code == 404, refused.text
        assert refused.json()["error"]["code"] == "no_such_avatar"
    assert bob.delete(f"/v1/avatars/{avatar_id}").status_code == 404

    async def stream_as_bob() -> dict:
        url = server.ws_url + "/v1/stream?api_key=bob"
        async with connect(url, max_size=2**24) as ws:
            await ws.send(json.dumps({"type": "start", "avatar_id": avatar_id, "size": SIZE}))
            return json.loads(await ws.recv())

    reply = asyncio.run(stream_as_bob())
    assert reply["type"] == "error" and reply["code"] == "no_such_avatar"
    # No key at all: refused before the upload is read.
    anonymous = httpx.post(server.base_url + "/v1/avatars",
                           files={"video": ("v.mp4", grid_clip().read_bytes(), "video/mp4")})  # fmt: skip
    assert anonymous.status_code == 401


def test_what_is_no_video_is_refused_at_once(server):
    alice = _client(server, "alice")
    cases = {
        "a photo": (MEDIA / "obama.jpg", "image/jpeg"),
        "speech": (clip_wav(SPEECH), "audio/wav"),
    }
    for what, (path, media_type) in cases.items():
        refused = alice.post(
            "/v1/avatars", files={"video": (path.name, path.read_bytes(), media_type)}
        )
        assert refused.status_code == 422, what
        assert "not a video" in refused.json()["error"]["message"], what
    both = alice.post(
        "/v1/avatars",
        files={"video": ("v.mp4", b"x" * 10, "video/mp4"),
               "image": ("p.jpg", (MEDIA / "obama.jpg").read_bytes(), "image/jpeg")},
    )  # fmt: skip
    assert both.status_code == 422
    assert list((server.config.data_dir / "avatars").glob(".*")) == [], "nothing left behind"


def test_a_video_without_a_face_ends_failed_with_the_reason(server, tmp_path):
    alice = _client(server, "alice")
    accepted = _upload_video(alice, clip_without_face(tmp_path))
    assert accepted.status_code == 202, accepted.text
    avatar_id = accepted.json()["id"]
    # Until it has failed (or while it is still trying), it cannot be used.
    early = alice.post("/v1/jobs", data={"avatar_id": avatar_id, "text": "hello"})
    assert early.status_code == 409
    assert early.json()["error"]["code"] in {"avatar_not_ready", "avatar_failed"}
    failed, _ = _follow(alice, avatar_id, {"ready", "failed"})
    assert failed["status"] == "failed"
    assert "face" in failed["error"] and "\n" not in failed["error"]
    assert str(server.config.data_dir) not in failed["error"], "no server paths in messages"
    refused = alice.post("/v1/jobs", data={"avatar_id": avatar_id, "text": "hello"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "avatar_failed"
    assert failed["error"] in refused.json()["error"]["message"]
    assert not (server.config.data_dir / "avatars" / avatar_id / "video").exists()
    assert alice.delete(f"/v1/avatars/{avatar_id}").status_code == 204
    assert _avatar_files(server, avatar_id) == []


def test_limits_on_size_and_length(tmp_path):
    short = clip_too_short(tmp_path)
    grid_bytes, short_bytes = grid_clip().stat().st_size, short.stat().st_size
    assert short_bytes < grid_bytes
    (tmp_path / "limits").mkdir()
    config = server_config(
        tmp_path / "limits",
        max_video_upload_bytes=(grid_bytes + short_bytes) // 2,
        max_enrol_s=3.0,
    )
    with running_server(config) as running, httpx.Client(base_url=running.base_url) as client:
        too_big = _upload_video(client, grid_clip())
        assert too_big.status_code == 413, too_big.text
        too_long = _upload_video(client, short)
        assert too_long.status_code == 422, too_long.text
        assert too_long.json()["error"]["code"] == "too_long"
        assert "3 s" in too_long.json()["error"]["message"]
        assert list((config.data_dir / "avatars").iterdir()) == []


def test_a_cancelled_enrolment_leaves_a_failed_avatar_without_its_video(server):
    alice = _client(server, "alice")
    accepted = _upload_video(alice, grid_clip())
    avatar_id, job_id = accepted.json()["id"], accepted.json()["job_id"]
    cancelled = alice.delete(f"/v1/jobs/{job_id}").json()
    assert cancelled["state"] == "cancelled" and cancelled["kind"] == "enrol"
    video = server.config.data_dir / "avatars" / avatar_id / "video"
    deadline = time.monotonic() + 30
    while video.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not video.exists(), "the video goes once its enrolment is over"
    avatar = alice.get(f"/v1/avatars/{avatar_id}").json()
    assert avatar["status"] == "failed" and "cancelled" in avatar["error"]
    assert alice.delete(f"/v1/avatars/{avatar_id}").status_code == 204
    assert _avatar_files(server, avatar_id) == []


def test_deleting_while_enrolling_cancels_and_removes_every_file(server):
    alice = _client(server, "alice")
    accepted = _upload_video(alice, grid_clip())
    avatar_id, job_id = accepted.json()["id"], accepted.json()["job_id"]
    wait_for_job(alice, job_id, timeout_s=ENROL_TIMEOUT_S, states={"running"})
    assert alice.delete(f"/v1/avatars/{avatar_id}").status_code == 204
    assert alice.get(f"/v1/avatars/{avatar_id}").status_code == 404
    job = wait_for_job(alice, job_id, timeout_s=60)
    assert job["state"] == "cancelled"
    deadline = time.monotonic() + 30
    while _avatar_files(server, avatar_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _avatar_files(server, avatar_id) == []


def test_an_avatar_stored_in_another_format_says_so(server, enrolled):
    """Second to last: it spoils the module's avatar."""
    alice = _client(server, "alice")
    avatar_id = enrolled["ready"]["id"]
    meta_file = server.config.data_dir / "avatars" / avatar_id / "enrolled" / "enrolled.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "format": meta["format"] - 1}))
    avatar = alice.get(f"/v1/avatars/{avatar_id}").json()
    assert avatar["status"] == "failed" and "upload the video again" in avatar["error"]
    refused = alice.post("/v1/jobs", data={"avatar_id": avatar_id, "text": "hello"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "avatar_failed"


def test_deleting_an_enrolled_avatar_removes_every_file(server, enrolled):
    """Last: the module's enrolled avatar goes."""
    alice = _client(server, "alice")
    avatar_id = enrolled["ready"]["id"]
    assert _avatar_files(server, avatar_id) != []
    assert alice.delete(f"/v1/avatars/{avatar_id}").status_code == 204
    assert _avatar_files(server, avatar_id) == []
    assert alice.get(f"/v1/avatars/{avatar_id}").status_code == 404
    speech = clip_wav(SPEECH).read_bytes()
    gone = alice.post("/animate", files={"audio": ("s.wav", speech, "audio/wav")},
                      data={"avatar_id": avatar_id})  # fmt: skip
    assert gone.status_code == 404
