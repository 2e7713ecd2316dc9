"""headcast's LiveKit avatar without a LiveKit server: speech in as an agent's TTS hands it
over, through ``HeadcastVideoGenerator`` and LiveKit's own ``AVSynchronizer`` (the pacing
``AvatarRunner`` publishes with), and what the avatar's tracks carry recorded into a video.

    integrations/livekit/.venv/bin/python examples/livekit_offline.py PORTRAIT SPEECH.wav -o OUT.mp4

Starts its own ``headcast serve`` (local mode) from ``--headcast`` (default
``$HEADCAST_COMMAND``, else the repository's ``.venv/bin/headcast``), or uses a running one with
``--url`` and ``--api-key``. Needs the integration's environment (``make integrations``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import wave
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from headcast_client import LocalServer, StreamOptions
from headcast_livekit import HeadcastVideoGenerator
from livekit import rtc
from livekit.agents.voice.avatar import AudioSegmentEnd

REPO = Path(__file__).resolve().parents[1]
TTS_FRAME_MS = 20
IDLE_BEFORE_S = 1.0  # idle frames before the agent speaks, and after
QUEUE_SIZE_MS = 100  # AvatarRunner's queue size for its AudioSource and AVSynchronizer


@dataclass
class Recording:
    """What a participant subscribed to the avatar's tracks receives, with arrival times."""

    audio: list[np.ndarray] = field(default_factory=list)
    # Each audio chunk's arrival minus the media time of its end: delivery only ever adds
    # delay, so the smallest is when the audio's first sample played.
    audio_start_estimates_s: list[float] = field(default_factory=list)
    video: list[tuple[float, np.ndarray]] = field(default_factory=list)

    @property
    def audio_started_s(self) -> float | None:
        return min(self.audio_start_estimates_s, default=None)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        if wav.getsampwidth() != 2:
            raise SystemExit(f"{path}: 16-bit PCM WAV expected")
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        channels, rate = wav.getnchannels(), wav.getframerate()
    return pcm.reshape(-1, channels).astype(np.int16), rate


async def speak(generator: HeadcastVideoGenerator, pcm: np.ndarray, rate: int) -> None:
    """The speech as a TTS emits it: 20 ms frames, handed over faster than real time."""
    await asyncio.sleep(IDLE_BEFORE_S)
    step = rate * TTS_FRAME_MS // 1000
    for start in range(0, len(pcm), step):
        chunk = np.ascontiguousarray(pcm[start : start + step])
        await generator.push_audio(rtc.AudioFrame(chunk.tobytes(), rate, pcm.shape[1], len(chunk)))
        await asyncio.sleep(0)
    await generator.push_audio(AudioSegmentEnd())


async def forward(generator: HeadcastVideoGenerator, av_sync: rtc.AVSynchronizer) -> None:
    """AvatarRunner's forwarding: everything but the turn's end goes to the synchronizer."""
    ended_at: float | None = None
    async for item in generator:
        if isinstance(item, AudioSegmentEnd):
            ended_at = time.perf_counter()
            continue
        await av_sync.push(item)
        if ended_at is not None and time.perf_counter() - ended_at > IDLE_BEFORE_S:
            return


async def record_audio(stream: rtc.AudioStream, recording: Recording) -> None:
    samples = 0
    async for event in stream:
        frame = event.frame
        samples += frame.samples_per_channel
        recording.audio_start_estimates_s.append(time.perf_counter() - samples / frame.sample_rate)
        recording.audio.append(np.frombuffer(frame.data, np.int16).copy())


async def record_video(stream: rtc.VideoStream, recording: Recording) -> None:
    async for event in stream:
        frame = event.frame
        rgb = np.frombuffer(frame.data, np.uint8).reshape(frame.height, frame.width, 3)
        if not rgb.any():
            continue  # the track's black filler while its source has had no picture yet
        recording.video.append((time.perf_counter(), rgb.copy()))


async def run(args: argparse.Namespace) -> Recording:
    pcm, rate = read_wav(args.speech)
    server: LocalServer | None = None
    url, api_key = args.url, args.api_key
    if url is None:
        server = await LocalServer(args.headcast).start()
        url, api_key = server.url, server.api_key
    try:
        options = StreamOptions(
            url=url,
            api_key=api_key or "",
            portrait=args.portrait.read_bytes(),
            size_px=args.size,
            fps=args.fps,
            input_sample_rate_hz=args.sample_rate,
            output_sample_rate_hz=args.sample_rate,
        )
        generator = await HeadcastVideoGenerator(options).start()
        try:
            return await record(generator, pcm, rate)
        finally:
            await generator.aclose()
    finally:
        if server is not None:
            await server.stop()


async def record(generator: HeadcastVideoGenerator, pcm: np.ndarray, rate: int) -> Recording:
    audio_source = rtc.AudioSource(generator.audio_sample_rate, 1, queue_size_ms=QUEUE_SIZE_MS)
    video_source = rtc.VideoSource(generator.video_width, generator.video_height)
    av_sync = rtc.AVSynchronizer(
        audio_source=audio_source,
        video_source=video_source,
        video_fps=generator.video_fps,
        video_queue_size_ms=QUEUE_SIZE_MS,
    )
    generator.set_av_sync(av_sync)  # as AvatarSession does with its runner's
    audio_track = rtc.LocalAudioTrack.create_audio_track("avatar_audio", audio_source)
    video_track = rtc.LocalVideoTrack.create_video_track("avatar_video", video_source)
    audio_stream = rtc.AudioStream.from_track(
        track=audio_track, sample_rate=generator.audio_sample_rate, num_channels=1
    )
    video_stream = rtc.VideoStream.from_track(track=video_track, format=rtc.VideoBufferType.RGB24)
    recording = Recording()
    recorders = [
        asyncio.create_task(record_audio(audio_stream, recording)),
        asyncio.create_task(record_video(video_stream, recording)),
    ]
    speaker = asyncio.create_task(speak(generator, pcm, rate))
    try:
        await forward(generator, av_sync)
        await av_sync.wait_for_playout()
        await asyncio.sleep(QUEUE_SIZE_MS / 1000)
    finally:
        speaker.cancel()
        await av_sync.aclose()
        for stream in (audio_stream, video_stream):
            await stream.aclose()
        for task in recorders:
            task.cancel()
        await asyncio.gather(*recorders, return_exceptions=True)
        await audio_source.aclose()
        await video_source.aclose()
    return recording


def write_video(recording: Recording, out: Path, fps: float, rate_hz: int) -> int:
    """Each picture at the frame of the media time it arrived at, the audio from its first
    sample; a frame that nothing arrived for repeats the one before. Returns the frames."""
    started_s = recording.audio_started_s
    if started_s is None or not recording.video:
        raise SystemExit("nothing was recorded")
    audio = np.concatenate(recording.audio)
    frames = round(len(audio) / rate_hz * fps)
    pictures: list[np.ndarray | None] = [None] * frames
    for arrived_s, rgb in recording.video:
        index = round((arrived_s - started_s) * fps)
        if 0 <= index < frames:
            pictures[index] = rgb
    first = next(p for p in pictures if p is not None)
    with av.open(str(out), "w") as container:
        video = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        video.width, video.height = first.shape[1], first.shape[0]
        video.pix_fmt = "yuv420p"
        video.options = {"crf": "18", "preset": "veryfast"}
        sound = container.add_stream("aac", rate=rate_hz)
        sound.layout = "mono"
        last = first
        for picture in pictures:
            last = picture if picture is not None else last
            for packet in video.encode(av.VideoFrame.from_ndarray(last, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        audio_frame = av.AudioFrame.from_ndarray(audio[None, :], format="s16", layout="mono")
        audio_frame.sample_rate = rate_hz
        for packet in sound.encode(audio_frame):
            container.mux(packet)
        for packet in sound.encode():
            container.mux(packet)
    return frames


def default_headcast() -> str | None:
    if os.environ.get("HEADCAST_COMMAND"):
        return None  # LocalServer reads it
    installed = REPO / ".venv" / "bin" / "headcast"
    return str(installed) if installed.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("portrait", type=Path)
    parser.add_argument("speech", type=Path, help="16-bit PCM WAV, any rate and channels")
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--headcast", default=default_headcast(), help="headcast executable")
    parser.add_argument("--url", help="a running headcast serve instead of a local one")
    parser.add_argument("--api-key", default=os.environ.get("HEADCAST_API_KEY"))
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--sample-rate", type=int, default=24_000)
    args = parser.parse_args()
    started = time.perf_counter()
    recording = asyncio.run(run(args))
    frames = write_video(recording, args.out, args.fps, args.sample_rate)
    print(
        f"{args.out}: {frames} frames ({len(recording.video)} received), "
        f"{time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
