"""Memory that does not grow with the length of the speech, and blockwise analysis that gives
the whole clip's results.

The analyses of a whole clip (decoding, loudness, pitch, voice activity, the pauses the phones
are cut at) once built per-frame spectra of the entire clip at once: 4 minutes of speech took
over a gigabyte. They now work a block of frames at a time.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
import wave
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest
import soxr
from conftest import ROOT, joined_clips

from headcast.audio import Audio, is_silent, load_audio, resample
from headcast.audio.pitch import PITCH_HOP_MS, pitch_hz
from headcast.audio.vad import frame_levels_db, voice_mask
from headcast.errors import InputError
from headcast.motion.prosody import STEP_SAMPLES, ProsodyStream
from headcast.phones.pieces import phones_in_pieces
from headcast.server import ServerConfig
from headcast.server.http.audio_upload import check_audio
from headcast.video import VideoWriter

SHORT_REPEATS = 1  # the recordings once: 25 s
LONG_REPEATS = 10  # about 4 minutes
# What the analyses may add to their peak, beyond the decoded speech they keep, from 25 s to
# 4 minutes of speech: their per-frame results (a few floats per 10 ms) and allocator slack.
MAX_PEAK_GROWTH_MB = 15.0

_ANALYSE = r"""
import json, sys, wave
import numpy as np, soxr
sys.path.insert(0, sys.argv[2])
from conftest import joined_clips
from headcast.audio import is_silent, load_audio
from headcast.audio.vad import voice_mask
from headcast.motion.prosody import ProsodyStream
from headcast.phones.pieces import cut_times
from headcast.phones.stream import BLOCK_MS

def status_mb(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":")) / 1024

speech, _ = joined_clips(repeats=int(sys.argv[1]))
# As a user's file: 44.1 kHz stereo, 16-bit.
x = soxr.resample(speech.samples, 16000, 44100)
pcm = np.clip(np.rint(np.stack([x, 0.8 * x], 1) * 32767), -32768, 32767).astype("<i2")
with wave.open(sys.argv[3], "wb") as w:
    w.setnchannels(2); w.setsampwidth(2); w.setframerate(44100); w.writeframes(pcm.tobytes())
del speech, x, pcm
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from here
before_mb = status_mb("VmRSS")
audio = load_audio(sys.argv[3])
# Prosody is measured as a clip's motion measures it: a stream, a block at a time.
prosody, block = ProsodyStream(), int(audio.sample_rate * BLOCK_MS / 1000)
for start in range(0, len(audio.samples) - block + 1, block):
    prosody.push(audio.samples[start : start + block])
voice_mask(audio.samples, audio.sample_rate)
cut_times(audio)
is_silent(audio)
peak_mb = status_mb("VmHWM") - before_mb - audio.samples.nbytes / 2**20
print(json.dumps({"peak_mb": peak_mb, "seconds": audio.duration_s}))
"""


def _analysis_peak_mb(repeats: int, tmp_path: Path) -> tuple[float, float]:
    """Peak memory of the whole-clip analyses above the decoded speech, in a fresh process."""
    wav = tmp_path / f"speech-{repeats}.wav"
    # Large arrays mapped and unmapped straight from the system: the peak is then what the
    # analyses hold, not what the allocator kept of the memory that built the speech.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    done = subprocess.run(
        [sys.executable, "-c", _ANALYSE, str(repeats), str(ROOT / "tests"), str(wav)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["peak_mb"], result["seconds"]


def test_analysis_memory_does_not_grow_with_the_speech(tmp_path: Path) -> None:
    short_mb, short_s = _analysis_peak_mb(SHORT_REPEATS, tmp_path)
    long_mb, long_s = _analysis_peak_mb(LONG_REPEATS, tmp_path)
    assert long_s > 8 * short_s > 180
    assert long_mb - short_mb <= MAX_PEAK_GROWTH_MB, (
        f"the analyses peaked {short_mb:.0f} MB above the speech for {short_s:.0f} s and "
        f"{long_mb:.0f} MB for {long_s:.0f} s"
    )


@pytest.fixture(scope="module")
def speech() -> Audio:
    audio, _ = joined_clips()
    return audio


# Blocks of 1 frame, of a size that divides nothing, of the default, and the clip whole.
BLOCKS = [1, 37, 512, 10**9]


def test_blockwise_pitch_is_the_whole_clips_pitch(speech: Audio) -> None:
    whole = pitch_hz(speech.samples, speech.sample_rate, block_frames=10**9)
    voiced = np.isfinite(whole)
    assert 0.3 < voiced.mean() < 0.9  # real speech: voiced and unvoiced frames
    for block in BLOCKS:
        blocked = pitch_hz(speech.samples, speech.sample_rate, block_frames=block)
        np.testing.assert_array_equal(blocked, whole, err_msg=f"blocks of {block}")
    # the frames on either side of every block edge of the default size, voiced ones included
    edges = np.arange(512, len(whole), 512)
    around = np.concatenate([edges - 1, edges])
    assert voiced[around].any()


def test_blockwise_levels_are_the_whole_clips(speech: Audio) -> None:
    levels = frame_levels_db(speech.samples, speech.sample_rate, block_frames=10**9)
    for block in BLOCKS:
        np.testing.assert_array_equal(
            frame_levels_db(speech.samples, speech.sample_rate, block_frames=block), levels
        )


def _streamed_prosody(samples: np.ndarray, push_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Loudness and semitones of ``samples`` measured ``push_steps`` 10 ms steps at a time."""
    stream, push = ProsodyStream(), push_steps * STEP_SAMPLES
    n = len(samples) // push * push
    for start in range(0, n, push):
        stream.push(samples[start : start + push])
    steps = n // STEP_SAMPLES
    return stream.loudness(0, steps), stream.semitones(0, steps)


def test_streamed_prosody_is_final_once_measured(speech: Audio) -> None:
    """Prosody is measured as the speech arrives rather than over the whole clip at once: the
    values of a step are final once measured, the same whatever speech comes after, and
    still span the whole range of loudness and pitch."""
    for push_steps in (1, 4, 37):
        loudness, semitones = _streamed_prosody(speech.samples, push_steps)
        assert loudness.max() == 1.0 and loudness.min() == 0.0
        assert (semitones > 1).any() and (semitones < -1).any()  # pitch moves either way
        for part in (0.3, 0.7):
            cut = int(len(speech.samples) * part) // (push_steps * STEP_SAMPLES)
            head = _streamed_prosody(speech.samples[: cut * push_steps * STEP_SAMPLES], push_steps)
            np.testing.assert_array_equal(head[0], loudness[: len(head[0])], f"{push_steps}")
            np.testing.assert_array_equal(head[1], semitones[: len(head[1])], f"{push_steps}")


def test_pitch_at_block_edges_matches_each_frame_on_its_own(speech: Audio) -> None:
    """A frame across a block edge is computed from its own samples: the pitch of a frame is
    that of the same samples analysed alone."""
    hop = int(speech.sample_rate * PITCH_HOP_MS / 1000)
    blocked = pitch_hz(speech.samples, speech.sample_rate, block_frames=37)
    for frame in (37 * 20, 37 * 20 - 1, 37 * 41, 37 * 41 - 1):
        start = frame * hop  # frame i is centred on sample i * hop
        alone = pitch_hz(speech.samples[start - 2 * hop : start + 2 * hop + 1], speech.sample_rate)
        np.testing.assert_array_equal(alone[2], blocked[frame])


def _compressed_speech(tmp_path: Path) -> Path:
    """The recordings as a user's 44.1 kHz stereo MP3."""
    audio, _ = joined_clips()
    x = soxr.resample(audio.samples, audio.sample_rate, 44100)
    stereo = np.ascontiguousarray(np.stack([x, 0.8 * x]).astype(np.float32))
    path = tmp_path / "speech.mp3"
    with av.open(str(path), "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=44100, layout="stereo")
        frame = av.AudioFrame.from_ndarray(stereo, format="fltp", layout="stereo")
        frame.sample_rate = 44100
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_streamed_speech_is_the_decoded_speech(tmp_path: Path) -> None:
    """Read a chunk at a time, the speech gives the samples, the analysis-rate copy and the
    silence verdict that decoding it whole gives."""
    from headcast.audio.decode import stream_audio
    from headcast.audio.source import read_for_analysis, speech_source

    mp3 = _compressed_speech(tmp_path)
    whole = load_audio(mp3, sample_rate=48000)
    chunks = list(stream_audio(mp3, sample_rate=48000))
    assert len(chunks) > 10
    np.testing.assert_array_equal(np.concatenate(chunks), whole.samples)

    read = read_for_analysis(speech_source(mp3, 48000))
    np.testing.assert_array_equal(read.analysis.samples, resample(whole.samples, 48000, 16000))
    assert read.duration_s == whole.duration_s
    assert read.silent is is_silent(whole) is False
    np.testing.assert_array_equal(
        voice_mask(read.analysis.samples, 16000),
        voice_mask(load_audio(mp3).samples, 16000),
    )

    # Decoded audio at another rate streams as conform_audio's one-shot resampling.
    at_22k = Audio(resample(whole.samples, 48000, 22050), 22050)
    streamed = np.concatenate(list(speech_source(at_22k, 48000).chunks()))
    np.testing.assert_array_equal(streamed, resample(at_22k.samples, 22050, 48000))


def test_video_audio_from_a_stream_is_the_same_as_from_memory(tmp_path: Path) -> None:
    from headcast.audio.source import speech_source

    mp3 = _compressed_speech(tmp_path)
    frame = np.full((64, 64, 3), 128, np.uint8)
    decoded: list[np.ndarray] = []
    for name, audio in (
        ("memory", load_audio(mp3, sample_rate=48000)),
        ("stream", speech_source(mp3, 48000)),
    ):
        out = tmp_path / f"{name}.mp4"
        with VideoWriter(out, 64, 64, 25, audio) as writer:
            for _ in range(25 * 26):
                writer.write(frame)
        with av.open(str(out)) as container:
            decoded.append(
                np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
            )
    assert decoded[0].size > 48000 * 20
    np.testing.assert_array_equal(decoded[1], decoded[0])


def test_utterance_in_blocks_is_the_whole_clips(speech: Audio) -> None:
    """The PCM pocketsphinx decodes (digital silence cut, flat stretches dithered) is the same
    whatever the block size, with runs of zeros and of one value across block edges."""
    from headcast.phones.sphinx import utterance

    x = speech.samples.copy()
    x[990:1100] = 0.25  # flat: dithered
    x[4900:5400] = 0.0  # digital silence: cut
    x[9950:10100] = 0.0  # too short to cut: dithered
    x[-700:] = 0.0
    whole = utterance(Audio(x, speech.sample_rate), block_samples=len(x))
    assert len(whole.kept) > 3  # the joins of the recordings are cut too
    for block in (97, 1000, 5000):
        blocked = utterance(Audio(x, speech.sample_rate), block_samples=block)
        assert blocked.kept == whole.kept, f"blocks of {block}"
        assert blocked.pcm == whole.pcm, f"blocks of {block}"


def test_speech_without_pauses_is_decoded_in_bounded_pieces() -> None:
    """Speech in loud noise has no pause to cut at; it was decoded whole, and the decoder's
    memory grows with what it decodes at once (~1 MB a second). It is cut anyway, at quiet
    moments, into pieces no longer than ``MAX_PIECE_S``."""
    from headcast.phones.pieces import MAX_PIECE_S

    speech, _ = joined_clips(repeats=3)
    noise = np.random.default_rng(0).standard_normal(len(speech.samples)).astype(np.float32)
    noisy = Audio(speech.samples + noise * np.sqrt(np.mean(speech.samples**2)), 16000)
    assert noisy.duration_s > 2.5 * MAX_PIECE_S

    pieces = list(phones_in_pieces(noisy, fast=True))
    assert len(pieces) >= 3
    assert max(piece.end_s - piece.start_s for piece in pieces) <= MAX_PIECE_S
    assert pieces[0].start_s == 0.0 and pieces[-1].end_s == noisy.duration_s
    for before, after in pairwise(pieces):
        assert before.end_s == after.start_s


def test_utterance_holds_one_pcm_of_the_clip(speech: Audio) -> None:
    """The PCM for pocketsphinx is built, dithered and cut in its own memory: beside it, a
    block's work, not whole-clip masks of the runs nor a second, joined copy of the PCM."""
    import tracemalloc

    from headcast.phones.sphinx import utterance

    x = np.tile(speech.samples, 8)  # 200 s
    step = len(speech.samples)
    for first in range(0, len(x), step):
        x[first + 1000 : first + 9000] = 0.0  # digital silence: cut
        x[first + 20000 : first + 20200] = 0.25  # flat: dithered
    audio = Audio(x, speech.sample_rate)
    pcm_bytes = 2 * len(x)
    tracemalloc.start()
    try:
        kept = utterance(audio, block_samples=1 << 14)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(kept.kept) >= 8
    assert len(kept.pcm) < pcm_bytes
    assert peak_bytes < 1.5 * pcm_bytes, (
        f"{peak_bytes / 2**20:.1f} MB for {pcm_bytes / 2**20:.1f} MB of PCM"
    )


def _wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    pcm = np.clip(np.rint(samples * 32767), -32768, 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()


def test_an_upload_is_checked_without_holding_it_decoded() -> None:
    long, _ = joined_clips(repeats=LONG_REPEATS)
    data = _wav_bytes(long.samples, long.sample_rate)
    config = ServerConfig.from_env({}, allow_anonymous=True, max_audio_s=600.0)
    tracemalloc.start()
    try:
        duration_s = check_audio(data, "audio", config)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert abs(duration_s - long.duration_s) < 0.01
    # Decoded whole at the video's 48 kHz, these minutes were 46 MB of float32 and more.
    assert peak_bytes < 8 * 1024 * 1024, peak_bytes / 1e6


def test_a_silent_upload_is_refused_by_name() -> None:
    config = ServerConfig.from_env({}, allow_anonymous=True)
    quiet = np.full(16_000 * 3, 1e-4, np.float32)
    with pytest.raises(InputError, match=r"^audio: the audio is silent"):
        check_audio(_wav_bytes(quiet, 16_000), "audio", config)
