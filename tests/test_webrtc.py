"""WebRTC on a real server: a Python peer (aiortc) offers, receives the avatar's video and
audio, speaks to it through its microphone track, disconnects; bad offers get JSON errors."""

from __future__ import annotations

import asyncio
import base64
import fractions
import time
from dataclasses import dataclass, field

import av
import httpx
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from headcast.audio import load_audio
from headcast.server import ServerConfig
from headcast.server.state import app_state
from tests.conftest import MEDIA, clip_pcm16, clip_wav
from tests.support.servers import running_server, server_config, server_fixture
from tests.support.webrtc_sync import apertures, best_lag_frames

KEY = "webrtc-test-key"
OTHER_KEY = "someone-else"
SIZE = 256
RATE = 48_000
PACKET = 960  # 20 ms at 48 kHz
LOUD_RMS = 300.0  # int16 RMS of a 20 ms packet that holds speech (silence decodes to ~0)
MAX_LAG_FRAMES = 4
LONG_TEXT = (
    "Peter Piper picked a peck of pickled peppers. A peck of pickled peppers Peter Piper "
    "picked. If Peter Piper picked a peck of pickled peppers, where is the peck that he picked?"
)


server = server_fixture(api_keys=(KEY, OTHER_KEY))


def client(server, key: str = KEY) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, headers={"X-API-Key": key}, timeout=60)


class SpeechTrack(MediaStreamTrack):
    """A microphone: the given speech once, in real time, then silence."""

    kind = "audio"

    def __init__(self, speech: np.ndarray) -> None:
        super().__init__()
        self._speech = speech
        self._sent = 0
        self._started: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._started is None:
            self._started = time.monotonic()
        delay = self._started + self._sent / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self._speech[self._sent : self._sent + PACKET]
        chunk = np.pad(chunk, (0, PACKET - len(chunk)))
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = RATE, self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += PACKET
        return frame


@dataclass
class Peer:
    """The Python end of a connection, recording what arrives and when."""

    pc: RTCPeerConnection
    session_id: str
    video: MediaStreamTrack
    audio: MediaStreamTrack
    pictures: list[tuple[float, np.ndarray]] = field(default_factory=list)
    packets: list[tuple[float, float]] = field(default_factory=list)  # (arrival s, int16 RMS)
    audio_rates: set[int] = field(default_factory=set)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    def record(self) -> None:
        self._tasks = [
            asyncio.create_task(self._record_video()),
            asyncio.create_task(self._record_audio()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()

    def loud_since(self, t: float) -> int:
        return sum(1 for at, rms in self.packets if at >= t and rms > LOUD_RMS)

    async def _record_video(self) -> None:
        while True:
            frame = await self.video.recv()
            self.pictures.append((time.monotonic(), frame.to_ndarray(format="rgb24")))

    async def _record_audio(self) -> None:
        while True:
            frame = await self.audio.recv()
            self.audio_rates.add(frame.sample_rate)
            x = frame.to_ndarray().astype(np.float64)
            self.packets.append((time.monotonic(), float(np.sqrt(np.mean(x * x)))))


async def connect(
    http: httpx.AsyncClient,
    microphone: MediaStreamTrack | None = None,
    engine: str | None = None,
) -> Peer:
    """A peer of a new session (drawn by ``engine``, or the server's own), receiving its
    pictures and voice; sending ``microphone`` where given."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="recvonly")
    if microphone is None:
        pc.addTransceiver("audio", direction="recvonly")
    else:
        pc.addTrack(microphone)
    tracks: dict[str, MediaStreamTrack] = {}
    pc.on("track", lambda track: tracks.__setitem__(track.kind, track))
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer", "size": SIZE}
    if engine is not None:
        offer["engine"] = engine
    reply = await http.post("/v1/webrtc/offer", json=offer)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["type"] == "answer" and answer["size"] == SIZE and answer["fps"] == 25
    await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
    return Peer(pc, answer["session_id"], tracks["video"], tracks["audio"])


async def wait_until(condition, timeout_s: float = 20.0, step_s: float = 0.05) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(step_s)


async def interrupted_speech(
    http: httpx.AsyncClient, peer: Peer, timeout_s: float = 20.0
) -> tuple[float, float, float, httpx.Response]:
    """Idle pictures, then a long text said until 2 s of it were heard, then an interrupt, then
    1.5 s more: when the speech was asked, the interrupt sent and answered, and the reply to
    the text. The peer is stopped at the end."""
    peer.record()
    await wait_until(lambda: len(peer.pictures) >= 10, timeout_s)
    idle_until = time.monotonic()
    say = asyncio.create_task(
        http.post(f"/v1/live/{peer.session_id}/say", json={"text": LONG_TEXT})
    )
    await wait_until(lambda: peer.loud_since(idle_until) >= 100, timeout_s)  # 2 s of speech
    interrupted = time.monotonic()
    reply = await http.post(f"/v1/live/{peer.session_id}/interrupt")
    assert reply.status_code == 204
    answered = time.monotonic()
    await asyncio.sleep(1.5)
    said = await say
    await peer.stop()
    return idle_until, interrupted, answered, said


def test_avatar_streams_speech_in_sync_and_stops_on_interrupt(server, judge):
    async def scenario():
        async with client(server) as http:
            peer = await connect(http)
            return peer, *await interrupted_speech(http, peer)

    peer, idle_until, interrupted, answered, said = asyncio.run(scenario())
    assert said.status_code == 200 and said.json()["queued_s"] > 0
    assert peer.audio_rates == {RATE}
    assert all(image.shape == (SIZE, SIZE, 3) for _, image in peer.pictures)
    # Idle before speech: silent audio, a face with the mouth at rest.
    assert peer.loud_since(0) - peer.loud_since(idle_until) == 0
    mouth = apertures(judge, [p for p in peer.pictures if p[0] <= interrupted])
    assert len(mouth) >= 0.9 * sum(1 for p in peer.pictures if p[0] <= interrupted)
    assert mouth[mouth[:, 0] < idle_until, 1].max() < 0.05
    # Speaking: the mouth opens and its movement follows the sound it arrives with.
    assert mouth[:, 1].max() > 0.1
    lag, correlation = best_lag_frames(
        [p for p in peer.packets if idle_until <= p[0] <= interrupted],
        mouth[mouth[:, 0] >= idle_until],
        MAX_LAG_FRAMES,
    )
    assert abs(lag) <= 2 and correlation > 0.3, (lag, correlation)
    # Interrupted after ~2 s of a ~12 s text: sound stops within a few packets of the answer
    # (bounds generous for a loaded machine: the feed holds at most 0.4 s of audio).
    assert peer.loud_since(answered + 0.5) == 0
    assert peer.loud_since(interrupted) < 30
    late = [(at, img) for at, img in peer.pictures if at > answered + 0.5]
    assert len(late) > 20 and apertures(judge, late)[:, 1].max() < 0.05


def test_microphone_track_is_spoken_by_the_avatar(server, judge):
    pcm = clip_pcm16("0870", RATE)[: int(2.5 * RATE)]

    async def scenario():
        async with client(server) as http:
            peer = await connect(http, microphone=SpeechTrack(pcm))
            peer.record()

            def spoken_then_quiet() -> bool:
                loud = [at for at, rms in peer.packets if rms > LOUD_RMS]
                return len(loud) >= 60 and time.monotonic() - loud[-1] > 0.8

            await wait_until(spoken_then_quiet, timeout_s=20)
            status = await http.get(f"/v1/live/{peer.session_id}")
            await peer.stop()
            return peer, status

    peer, status = asyncio.run(scenario())
    assert status.status_code == 200 and status.json()["audio_rate"] == RATE
    # The speech comes back as the avatar's voice (about 2.5 s of it), then silence again.
    loud = [at for at, rms in peer.packets if rms > LOUD_RMS]
    assert len(loud) >= 60, len(loud)
    assert peer.packets[-1][0] - loud[-1] > 0.5
    mouth = apertures(judge, peer.pictures)
    assert mouth[:, 1].max() > 0.1 and mouth[-10:, 1].max() < 0.05


def test_disconnect_frees_the_session_and_delete_ends_the_connection(server):
    async def scenario():
        async with client(server) as http, client(server, OTHER_KEY) as other:
            first = await connect(http)
            await asyncio.wait_for(first.video.recv(), 20)
            assert (await other.get(f"/v1/live/{first.session_id}")).status_code == 403
            assert (await other.delete(f"/v1/live/{first.session_id}")).status_code == 403
            await first.pc.close()
            gone = None
            for _ in range(100):
                gone = await http.get(f"/v1/live/{first.session_id}")
                if gone.status_code == 404:
                    break
                await asyncio.sleep(0.1)

            second = await connect(http)
            await asyncio.wait_for(second.video.recv(), 20)
            deleted = await http.delete(f"/v1/live/{second.session_id}")
            await wait_until(lambda: second.pc.connectionState == "closed", timeout_s=10)
            with pytest.raises(MediaStreamError):
                while True:
                    await asyncio.wait_for(second.video.recv(), 10)
            metrics = (await http.get("/metrics")).text
            return gone, deleted, metrics

    gone, deleted, metrics = asyncio.run(scenario())
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "no_such_session"
    assert deleted.status_code == 204
    assert "headcast_active_sessions 0.0" in metrics
    assert len(app_state(server.app).live_sessions) == 0


def test_bad_offers_get_json_errors(server):
    def offer(**fields) -> httpx.Response:
        return httpx.post(
            server.base_url + "/v1/webrtc/offer", json=fields, headers={"X-API-Key": KEY}
        )

    async def audio_only_offer() -> str:
        pc = RTCPeerConnection()
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    cases = {
        "garbage": (offer(sdp="this is not SDP", type="offer"), 400, "bad_offer"),
        "broken": (offer(sdp="v=0\r\nm=video 9 RTP x\r\n", type="offer"), 400, "bad_offer"),
        "no video": (offer(sdp=asyncio.run(audio_only_offer()), type="offer"), 400, "bad_offer"),
        "no sdp": (offer(type="offer"), 422, "bad_request"),
        "an answer": (offer(sdp="v=0", type="answer"), 422, "bad_request"),
    }
    video_sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=recvonly\r\n"
    cases["bad base64"] = (offer(sdp=video_sdp, image_b64="%%%"), 422, "bad_input")
    not_photo = base64.b64encode(b"just some text, not a photo").decode()
    cases["not a photo"] = (offer(sdp=video_sdp, image_b64=not_photo), 422, "bad_input")
    cases["odd size"] = (offer(sdp=video_sdp, size=255), 422, "bad_input")
    cases["huge size"] = (offer(sdp=video_sdp, size=99999), 422, "bad_request")
    cases["lots of head motion"] = (offer(sdp=video_sdp, head_motion="lots"), 422, "bad_request")
    unauthorised = httpx.post(server.base_url + "/v1/webrtc/offer", json={"sdp": video_sdp})
    cases["no key"] = (unauthorised, 401, "unauthorized")
    for name, (reply, status, code) in cases.items():
        assert reply.status_code == status, (name, reply.text)
        assert reply.json()["error"]["code"] == code, (name, reply.text)
        assert reply.json()["error"]["message"], name
    assert "SDP" in cases["no video"][0].json()["error"]["message"]
    head_motion = cases["lots of head motion"][0].json()["error"]["message"]
    assert head_motion.startswith("head_motion:") and "from 0" in head_motion, head_motion
    assert len(app_state(server.app).live_sessions) == 0


def test_http_controls_push_audio_files_and_pcm(server):
    async def scenario():
        async with client(server) as http:
            peer = await connect(http)
            sid = peer.session_id
            wav = (MEDIA / "librivox-0880.wav").read_bytes()
            pcm = (np.sin(np.arange(8000) / 5) * 8000).astype("<i2").tobytes()
            replies = {
                "file": await http.post(f"/v1/live/{sid}/audio", content=wav),
                "pcm": await http.post(
                    f"/v1/live/{sid}/audio",
                    params={"sample_rate": 16000, "end": False},
                    content=pcm,
                ),
                "end": await http.post(f"/v1/live/{sid}/end"),
                "odd pcm": await http.post(
                    f"/v1/live/{sid}/audio", params={"sample_rate": 16000}, content=b"abc"
                ),
                "not audio": await http.post(f"/v1/live/{sid}/audio", content=b"hello" * 100),
                "empty": await http.post(f"/v1/live/{sid}/audio", content=b""),
                "bad voice": await http.post(
                    f"/v1/live/{sid}/say", json={"text": "hi", "voice": "klingon-xx"}
                ),
                "no words": await http.post(f"/v1/live/{sid}/say", json={"text": "   "}),
                "unknown": await http.post("/v1/live/nope/interrupt"),
            }
            await peer.stop()
            return replies

    replies = asyncio.run(scenario())
    assert replies["file"].status_code == 200
    assert abs(replies["file"].json()["queued_s"] - load_audio(clip_wav("0880")).duration_s) < 0.05
    assert replies["pcm"].json()["queued_s"] == 0.5
    assert replies["end"].status_code == 204
    expected = {
        "odd pcm": (422, "bad_input"),
        "not audio": (422, "bad_input"),
        "empty": (422, "bad_input"),
        "bad voice": (422, "bad_input"),
        "no words": (422, "bad_input"),
        "unknown": (404, "no_such_session"),
    }
    for name, (status, code) in expected.items():
        assert replies[name].status_code == status, (name, replies[name].text)
        assert replies[name].json()["error"]["code"] == code, name
    assert "voice" in replies["bad voice"].json()["error"]["message"]


def test_microphone_turns_start_with_speech_and_end_after_a_pause():
    from headcast.server.sessions.voice_turns import PAUSE_MS, PREROLL_MS, TurnDetector

    pcm = clip_pcm16("0890", RATE)[: 2 * RATE]
    room = np.random.default_rng(0).normal(0, 30, 3 * RATE).astype(np.int16)  # about -60 dBFS
    stream = np.concatenate([room[:RATE], pcm, room[RATE:], pcm])
    detector = TurnDetector()
    pieces = []
    for start in range(0, len(stream) - PACKET + 1, PACKET):
        pieces += detector.feed(stream[start : start + PACKET], RATE)
    assert detector.speaking
    pieces += detector.sender_stopped()  # the second turn ends when the sender stops

    assert detector.turns == 2 and not detector.speaking
    assert [p.starts for p in pieces].count(True) == 2
    first_end = next(i for i, p in enumerate(pieces) if p.ends)
    turns = [pieces[: first_end + 1], pieces[first_end + 1 :]]
    assert turns[0][-1].ends and turns[1][-1].ends and turns[1][0].starts
    pause = PAUSE_MS / 1000 * RATE
    end = 0
    for turn, speech_at in zip(turns, (RATE, 5 * RATE), strict=True):
        audio = np.concatenate([p.samples for p in turn])
        # Each turn is one unbroken stretch of the input: from just before the speech to
        # one pause after it; the room noise between turns is not passed on.
        at = next(
            o
            for o in range(end, len(stream), PACKET)
            if (stream[o : o + PACKET] == audio[:PACKET]).all()
        )
        np.testing.assert_array_equal(audio, stream[at : at + len(audio)])
        assert speech_at - PREROLL_MS / 1000 * RATE - PACKET <= at <= speech_at + 0.5 * RATE
        end = at + len(audio)
        assert speech_at + len(pcm) - pause <= end <= speech_at + len(pcm) + pause + 0.2 * RATE


class LoopbackStunServer(asyncio.DatagramProtocol):
    """Answers STUN binding requests, reporting every client at a documentation address, so
    that a candidate with that address can only have come from asking this server."""

    MAPPED_IP = "203.0.113.7"

    def __init__(self) -> None:
        self.requests = 0

    def connection_made(self, transport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr) -> None:
        from aioice import stun

        request = stun.parse_message(data)
        if request.message_method != stun.Method.BINDING:
            return
        self.requests += 1
        response = stun.Message(
            stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=request.transaction_id
        )
        response.attributes["XOR-MAPPED-ADDRESS"] = (self.MAPPED_IP, addr[1])
        self.transport.sendto(bytes(response), addr)


def test_configured_ice_servers_reach_the_server_and_the_page(tmp_path):
    async def scenario():
        loop = asyncio.get_running_loop()
        transport, stun_server = await loop.create_datagram_endpoint(
            LoopbackStunServer, local_addr=("127.0.0.1", 0)
        )
        port = transport.get_extra_info("sockname")[1]
        config = server_config(
            tmp_path,
            api_keys=(KEY,),
            ice_servers=(f"stun:127.0.0.1:{port}", "turn:127.0.0.1:3478?transport=udp"),
            turn_username="user",
            turn_credential="secret",
        )
        try:
            with running_server(config) as server:
                async with client(server) as http:
                    listed = (await http.get("/v1/webrtc/ice-servers")).json()
                    anonymous = await httpx.AsyncClient().get(
                        server.base_url + "/v1/webrtc/ice-servers"
                    )
                    pc = RTCPeerConnection()
                    pc.addTransceiver("video", direction="recvonly")  # video only is fine too
                    await pc.setLocalDescription(await pc.createOffer())
                    reply = await http.post(
                        "/v1/webrtc/offer",
                        json={"sdp": pc.localDescription.sdp, "type": "offer", "size": SIZE},
                    )
                    await pc.close()
                    if reply.status_code == 200:
                        await http.delete(f"/v1/live/{reply.json()['session_id']}")
        finally:
            transport.close()
        return listed, anonymous.status_code, reply, stun_server.requests

    listed, anonymous_status, reply, requests = asyncio.run(scenario())
    assert anonymous_status == 401
    assert listed["ice_servers"] == [
        {"urls": [listed["ice_servers"][0]["urls"][0]]},
        {
            "urls": ["turn:127.0.0.1:3478?transport=udp"],
            "username": "user",
            "credential": "secret",
        },
    ]
    assert listed["ice_servers"][0]["urls"][0].startswith("stun:127.0.0.1:")
    assert reply.status_code == 200, reply.text
    assert requests >= 1, "the server never asked the configured STUN server"
    srflx = [line for line in reply.json()["sdp"].splitlines() if "typ srflx" in line]
    assert srflx and all(LoopbackStunServer.MAPPED_IP in line for line in srflx), srflx


def test_bad_ice_server_urls_are_refused():
    from headcast.errors import InputError

    with pytest.raises(InputError, match=r"http://stun\.example\.org"):
        ServerConfig.from_env({"HEADCAST_ICE_SERVERS": "http://stun.example.org"}, api_keys=("k",))
