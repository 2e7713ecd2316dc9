"""A video file drawn by a remote engine fed the speech itself: each frame's speech is handed
over as soon as it is read, frames come back in order while later ones are on their way, and
the frames are encoded beside. No motion is made here: the engine hears the speech."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import numpy as np

from headcast.audio.source import SpeechSource
from headcast.render.capabilities import EngineCapabilities
from headcast.render.engine import RemoteEngineSession
from headcast.render.frame_audio import FrameAudio, FrameAudioWindows, silent_frame
from headcast.render.frame_pipeline import lead_frames
from headcast.render.remote_latency import report_remote_latency
from headcast.video import VideoWriter

# Frames asked for ahead of the one awaited at least, whatever latency the engine declares.
MIN_FRAMES_AHEAD = 8


def frames_of_speech(
    speech: SpeechSource, capabilities: EngineCapabilities, fps: float, n_frames: int
) -> Iterator[FrameAudio]:
    """Exactly ``n_frames`` frames of the speech at the engine's rate, read a chunk at a time;
    past the speech's end (a rounding's frame) they are silent."""
    assert capabilities.audio_rate_hz is not None
    rate = capabilities.audio_rate_hz
    windows = FrameAudioWindows(fps, rate, capabilities.audio_lookahead_ms, segment=0)
    given = 0
    for chunk in speech.chunks():
        for frame in windows.push_audio(chunk, speech.sample_rate):
            if given < n_frames:
                given += 1
                yield frame
    for frame in windows.finish():
        if given < n_frames:
            given += 1
            yield frame
    for i in range(given, n_frames):
        yield silent_frame(i, rate, fps, capabilities.audio_lookahead_ms)


def write_speech_fed_video(
    session: RemoteEngineSession,
    capabilities: EngineCapabilities,
    speech: SpeechSource,
    n_frames: int,
    out_path: Path,
    size: int,
    fps: float,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[float, float]:
    """Render ``n_frames`` frames into ``out_path`` (written whole or not at all); the session
    is closed after. Returns the seconds spent waiting for frames and encoding them."""
    ahead = max(lead_frames(capabilities, fps), MIN_FRAMES_AHEAD)
    waited_s = encode_s = 0.0
    flush = getattr(session, "flush", None)  # a session that gathers frames sends them now
    try:
        with VideoWriter(out_path, size, size, fps, speech) as writer:
            on_their_way: deque[Future[np.ndarray]] = deque()
            written = 0

            def write_oldest() -> None:
                nonlocal waited_s, encode_s, written
                t0 = time.perf_counter()
                frame = on_their_way.popleft().result()
                t1 = time.perf_counter()
                writer.write(frame)
                waited_s += t1 - t0
                encode_s += time.perf_counter() - t1
                written += 1
                if progress is not None:
                    progress(written, n_frames)

            for request in frames_of_speech(speech, capabilities, fps, n_frames):
                on_their_way.append(session.submit(request))
                if len(on_their_way) > ahead:
                    write_oldest()
            if callable(flush):
                flush()
            while on_their_way:
                write_oldest()
            t0 = time.perf_counter()
        encode_s += time.perf_counter() - t0
    finally:
        # A session that measures its server's latency hands it on (a service's metrics).
        take_latency = getattr(session, "take_latency", None)
        latency = take_latency() if callable(take_latency) else None
        if latency is not None:
            report_remote_latency(latency)
        session.close()
    return waited_s, encode_s
