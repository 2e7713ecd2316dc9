"""Live sessions made in session processes: spread over them, memory freed, a process that
dies ends only its own streams, an interrupt drops frames still on their way."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from headcast.face import prepare_avatar
from headcast.live.pool import SessionPool
from headcast.server.state import app_state
from headcast.session import SegmentFinished
from tests.conftest import SAMPLES, portrait_b64
from tests.support.servers import server_fixture

SIZE = 256
SHM = Path("/dev/shm")
CHUNK_SAMPLES = 1600


server = server_fixture(session_processes=2)


def _rings_mapped_here() -> set[str]:
    """The shared frame rings this process (the server under test) has mapped: other
    servers' rings on the machine are not this server's to count."""
    rings = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/dev/shm/psm_"):
            rings.add(fields[5].removeprefix("/dev/shm/").removesuffix(" (deleted)"))
    return rings


def _still_held(rings: set[str]) -> set[str]:
    """Those of ``rings`` still in shared memory or still mapped here."""
    return {r for r in rings if (SHM / r).exists()} | (_rings_mapped_here() & rings)


async def _open(server):
    ws = await connect(server.ws_url + "/v1/stream", max_size=2**24)
    await ws.send(json.dumps({"type": "start", "image_b64": portrait_b64(), "size": SIZE}))
    started = json.loads(await ws.recv())
    assert started["type"] == "started", started
    return ws, started["session_id"]


async def _speak_and_count_frames(ws, pcm: np.ndarray) -> int:
    for start in range(0, len(pcm), CHUNK_SAMPLES):
        await ws.send(pcm[start : start + CHUNK_SAMPLES].tobytes())
    await ws.send(json.dumps({"type": "end_segment"}))
    frames = 0
    while True:
        message = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(message, bytes):
            frames += 1
        elif json.loads(message)["type"] == "segment_finished":
            return frames


def test_sessions_spread_over_processes_and_free_their_memory(server, speech_pcm):
    before = _rings_mapped_here()
    pool = app_state(server.app).live_sessions.pool

    async def scenario():
        (ws1, id1), (ws2, id2) = await asyncio.gather(_open(server), _open(server))
        sessions = app_state(server.app).live_sessions
        pids = {sessions.get(i).session.process_id for i in (id1, id2)}
        counts = sorted(pool.session_counts())
        frames = await asyncio.gather(
            _speak_and_count_frames(ws1, speech_pcm[:24000]),
            _speak_and_count_frames(ws2, speech_pcm[24000:48000]),
        )
        during = _rings_mapped_here() - before
        await ws1.close()
        await ws2.close()
        return pids, counts, frames, during

    pids, counts, frames, during = asyncio.run(scenario())
    assert len(pids) == 2 and os.getpid() not in pids, "the two sessions share a process"
    assert counts == [1, 1]
    # 1.5 s of speech at 25 fps, plus the idle frames while it arrived.
    assert all(f >= 37 for f in frames), frames
    assert len(during) == 2, "one shared frame ring per session"
    deadline = time.monotonic() + 10
    while _still_held(during) or any(pool.session_counts()):
        assert time.monotonic() < deadline, "a closed session kept its memory"
        time.sleep(0.05)


def test_a_process_that_dies_ends_only_its_streams(server, speech_pcm):
    before = _rings_mapped_here()

    async def scenario():
        ws, session_id = await _open(server)
        assert await _speak_and_count_frames(ws, speech_pcm[:8000]) > 0
        ring = _rings_mapped_here() - before
        pid = app_state(server.app).live_sessions.get(session_id).session.process_id
        os.kill(pid, signal.SIGKILL)
        events = []
        try:
            while True:
                message = await asyncio.wait_for(ws.recv(), 10)
                if isinstance(message, str):
                    events.append(json.loads(message))
        except ConnectionClosed:
            pass
        # The server goes on: a new session gets a new process and speaks.
        ws2, _ = await _open(server)
        frames = await _speak_and_count_frames(ws2, speech_pcm[:8000])
        await ws2.close()
        return pid, events, frames, ring

    pid, events, frames, ring = asyncio.run(scenario())
    assert len(ring) == 1
    assert any(e["type"] == "error" for e in events), events
    assert frames >= 12
    assert pid not in app_state(server.app).live_sessions.pool.process_ids()
    deadline = time.monotonic() + 10
    while _still_held(ring):
        assert time.monotonic() < deadline, "the dead process's frame ring was not freed"
        time.sleep(0.05)


def test_queued_pushes_join_in_order_up_to_a_tenth_of_a_second():
    import queue
    from collections import deque

    from headcast.live.host import _joined_pushes
    from headcast.live.wire import SessionInput

    def push(start: int, n: int, generation: int = 0, rate: int = 16_000):
        pcm = np.arange(start, start + n, dtype=np.int16)
        return generation, SessionInput("s", "push_audio", pcm, rate)

    inputs: queue.Queue = queue.Queue()
    for item in [push(320, 320), push(640, 320), push(960, 800), push(0, 10, generation=1)]:
        inputs.put(item)
    taken: deque = deque()
    generation, joined = _joined_pushes(push(0, 320), inputs, taken)
    # 20 + 20 + 20 ms joined; the 50 ms push would pass 100 ms, so it waits its turn.
    assert generation == 0 and np.array_equal(joined.pcm, np.arange(960, dtype=np.int16))
    assert [len(item[1].pcm) for item in taken] == [800]
    assert inputs.qsize() == 1  # the push after an interrupt was not even read
    # An end of segment is never joined over.
    inputs = queue.Queue()
    inputs.put((0, SessionInput("s", "end_segment")))
    taken = deque()
    _, alone = _joined_pushes(push(0, 320), inputs, taken)
    assert len(alone.pcm) == 320 and taken[0][1].action == "end_segment"


def test_frames_held_up_by_a_slow_transport_stop_at_an_interrupt(tmp_path, speech_pcm):
    """A transport that falls behind leaves speaking frames waiting in the ring; an interrupt
    drops them: not one more frame of speech, and frame numbers without a gap."""
    avatar = prepare_avatar(SAMPLES / "astronaut.png", SIZE, cache_dir=tmp_path)
    fps = 25.0

    async def scenario():
        pool = SessionPool(1)
        session = await pool.open(avatar, "slow", fps=fps, output_rate=16_000, realtime=True)
        try:
            session.push_audio(speech_pcm[:64_000], 16_000)  # four seconds
            session.end_segment()
            interrupted = False
            before, after, finished = [], [], []
            async for item in session.frames():
                if isinstance(item, SegmentFinished):
                    finished.append(item)
                    continue
                (after if interrupted else before).append(item)
                if not interrupted and sum(f.speaking for f in before) == 5:
                    await asyncio.sleep(0.5)  # the transport stalls: frames pile up meanwhile
                    session.interrupt()
                    interrupted = True
                if len(after) == 10:
                    break
            return before, after, finished
        finally:
            session.release()
            await asyncio.to_thread(pool.close)

    before, after, finished = asyncio.run(scenario())
    frames = before + after
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(abs(f.pts_s - f.index / fps) < 1e-9 for f in frames)
    assert sum(f.speaking for f in before) == 5
    assert not any(f.speaking or f.audio.any() for f in after)
    assert not finished  # the segment was cut short
