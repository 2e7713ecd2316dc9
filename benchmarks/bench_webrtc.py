"""WebRTC on loopback against a real ``headcast serve`` process, with aiortc peers.

Measured on the client, by arrival time:

- connect: from posting the offer to the first video frame (the portrait is cached);
- say → voice: from posting ``/say`` (one sentence) to the first loud audio packet;
- A/V: lag of the best correlation between the judged mouth opening (dlib) and the loudness
  of the audio received with it (positive = picture late), in 40 ms frames;
- interrupt: from posting ``/interrupt`` to the last loud packet, and to the first picture
  with the lips closed;
- concurrency: peers that each speak into their microphone track (LibriVox speech, in real
  time, looped) at 512², 25 fps; received frames per second per peer, and the server's CPU.

Run: ``.venv/bin/python benchmarks/bench_webrtc.py`` (``--max-peers N``, ``--quick``).
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_stream import start_server  # noqa: E402
from tests.conftest import clip_pcm16  # noqa: E402
from tests.support.webrtc_sync import apertures, best_lag_frames  # noqa: E402

SIZE = 512
RATE = 48_000
PACKET = 960
LOUD_RMS = 300.0
SENTENCE = "Peter Piper picked a peck of pickled peppers, and then he went home for tea."
KEEP_UP_FPS = 24.0
WINDOW_S = 10.0
WARMUP_S = 3.0
MAX_LAG_FRAMES = 5


def microphone_class():
    import av
    from aiortc.mediastreams import MediaStreamTrack

    class LoopedSpeech(MediaStreamTrack):
        """A microphone that keeps talking: the given speech, looped, in real time."""

        kind = "audio"

        def __init__(self, pcm: np.ndarray) -> None:
            super().__init__()
            self._pcm, self._sent, self._t0 = pcm, 0, None

        async def recv(self):
            self._t0 = self._t0 or time.monotonic()
            delay = self._t0 + self._sent / RATE - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            start = self._sent % (len(self._pcm) - PACKET)
            chunk = self._pcm[start : start + PACKET]
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts = RATE, self._sent
            frame.time_base = fractions.Fraction(1, RATE)
            self._sent += PACKET
            return frame

    return LoopedSpeech


class Peer:
    def __init__(self, base: str, microphone=None) -> None:
        self.base, self.microphone = base, microphone
        self.pictures: list[tuple[float, np.ndarray | None]] = []
        self.packets: list[tuple[float, float]] = []
        self.keep_pictures = False

    async def connect(self, http) -> float:
        from aiortc import RTCPeerConnection, RTCSessionDescription

        self.pc = RTCPeerConnection()
        self.pc.addTransceiver("video", direction="recvonly")
        if self.microphone is None:
            self.pc.addTransceiver("audio", direction="recvonly")
        else:
            self.pc.addTrack(self.microphone)
        tracks = {}
        self.pc.on("track", lambda t: tracks.__setitem__(t.kind, t))
        await self.pc.setLocalDescription(await self.pc.createOffer())
        t0 = time.monotonic()
        reply = await http.post(
            self.base + "/v1/webrtc/offer",
            json={"sdp": self.pc.localDescription.sdp, "type": "offer", "size": SIZE},
        )
        reply.raise_for_status()
        answer = reply.json()
        self.session_id = answer["session_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        self.video, self.audio = tracks["video"], tracks["audio"]
        await self.video.recv()
        connected = time.monotonic() - t0
        self.tasks = [asyncio.create_task(self._video()), asyncio.create_task(self._audio())]
        return connected

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pc.close()

    def frames_between(self, t0: float, t1: float) -> int:
        return sum(1 for t, _ in self.pictures if t0 <= t < t1)

    def first_loud_after(self, t: float) -> float | None:
        return next((at for at, rms in self.packets if at >= t and rms > LOUD_RMS), None)

    async def _video(self) -> None:
        while True:
            frame = await self.video.recv()
            image = frame.to_ndarray(format="rgb24") if self.keep_pictures else None
            self.pictures.append((time.monotonic(), image))

    async def _audio(self) -> None:
        while True:
            frame = await self.audio.recv()
            x = frame.to_ndarray().astype(np.float64)
            self.packets.append((time.monotonic(), float(np.sqrt(np.mean(x * x)))))


async def one_peer_figures(base: str, runs: int) -> list[dict]:
    import httpx

    from quality.judge import FaceJudge

    judge = FaceJudge()
    results = []
    async with httpx.AsyncClient(timeout=120) as http:
        for _ in range(runs):
            peer = Peer(base)
            peer.keep_pictures = True
            connect_s = await peer.connect(http)
            await asyncio.sleep(1.0)
            said = time.monotonic()
            say = asyncio.create_task(
                http.post(f"{base}/v1/live/{peer.session_id}/say", json={"text": SENTENCE * 3})
            )
            while peer.first_loud_after(said) is None or time.monotonic() - said < 3.0:
                await asyncio.sleep(0.02)
            voice_s = peer.first_loud_after(said) - said
            interrupted = time.monotonic()
            await http.post(f"{base}/v1/live/{peer.session_id}/interrupt")
            await asyncio.sleep(1.5)
            await say
            await peer.close()
            loud_after = [at for at, rms in peer.packets if at >= interrupted and rms > LOUD_RMS]
            speaking = [p for p in peer.pictures if said <= p[0] <= interrupted]
            mouth = apertures(judge, speaking)
            after = apertures(judge, [p for p in peer.pictures if p[0] > interrupted])
            closed = next((at for at, ap in after if ap < 0.04), None)
            results.append(
                {
                    "connect_s": connect_s,
                    "voice_s": voice_s,
                    "lag_frames": best_lag_frames(
                        [p for p in peer.packets if said <= p[0] <= interrupted],
                        mouth,
                        MAX_LAG_FRAMES,
                    )[0],
                    "interrupt_sound_s": (loud_after[-1] - interrupted) if loud_after else 0.0,
                    "interrupt_closed_s": (closed - interrupted) if closed else float("nan"),
                }
            )
    return results


async def concurrency(base: str, server, max_peers: int) -> list[dict]:
    import httpx

    pcm = clip_pcm16("0870", RATE)
    LoopedSpeech = microphone_class()
    rows = []
    async with httpx.AsyncClient(timeout=120) as http:
        for count in range(1, max_peers + 1):
            peers = [Peer(base, LoopedSpeech(pcm)) for _ in range(count)]
            for peer in peers:
                await peer.connect(http)
            await asyncio.sleep(WARMUP_S)
            cpu0, t0 = server.cpu_s(), time.monotonic()
            await asyncio.sleep(WINDOW_S)
            cpu1, t1 = server.cpu_s(), time.monotonic()
            fps = [p.frames_between(t0, t1) / (t1 - t0) for p in peers]
            rows.append({"peers": count, "min_fps": min(fps), "cpu": (cpu1 - cpu0) / (t1 - t0)})
            print(f"{count} peers: min {min(fps):.1f} fps, server CPU {rows[-1]['cpu']:.2f} cores")
            await asyncio.gather(*(p.close() for p in peers))
            await asyncio.sleep(1.0)
            if min(fps) < KEEP_UP_FPS:
                break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-peers", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one run, up to two peers")
    args = parser.parse_args()
    runs, max_peers = (1, 2) if args.quick else (args.runs, args.max_peers)
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(data_dir)
        base = f"http://127.0.0.1:{server.port}"
        try:
            singles = asyncio.run(one_peer_figures(base, runs))
            ramp = asyncio.run(concurrency(base, server, max_peers))
        finally:
            server.process.terminate()
            server.process.wait(10)
    print(f"\n{platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}")
    print(
        "| run | connect s | say → voice s | A/V lag frames | interrupt → silent s | interrupt → lips closed s |"
    )
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(singles, 1):
        print(
            f"| {i} | {r['connect_s']:.2f} | {r['voice_s']:.2f} | {r['lag_frames']:+d} | "
            f"{r['interrupt_sound_s']:.3f} | {r['interrupt_closed_s']:.3f} |"
        )
    print("\n| peers | slowest peer fps | server CPU (cores) |\n|---|---|---|")
    for r in ramp:
        print(f"| {r['peers']} | {r['min_fps']:.1f} | {r['cpu']:.2f} |")


if __name__ == "__main__":
    main()
