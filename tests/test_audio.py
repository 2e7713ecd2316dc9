"""Audio decoding: real speech through every supported format, and every way an input can be bad."""

from __future__ import annotations

import os
import re
import shutil
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import soxr

from headcast.audio import Audio, is_silent, load_audio, resample
from headcast.audio import decode as decode_module
from headcast.errors import InputError

MEDIA = Path(__file__).parent / "media"
SPEECH_WAV = MEDIA / "librivox-0870.wav"


def _read_reference() -> np.ndarray:
    """The speech through the standard library's WAV reader, independent of the code under test."""
    with wave.open(str(SPEECH_WAV)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    return pcm.astype(np.float32) / 32768.0


REFERENCE = _read_reference()
REFERENCE_S = REFERENCE.size / 16000


def _to_format(x: np.ndarray, fmt: str) -> np.ndarray:
    if fmt.startswith("s16"):
        return (np.clip(x, -1, 1) * 32767).astype(np.int16)
    if fmt.startswith("s32"):
        return (np.clip(x, -1, 1) * (2**31 - 1)).astype(np.int32)
    return x.astype(np.float32)


def transcode(
    dst: Path, container: str, codec: str, rate: int, channels: int = 1, **options: str
) -> Path:
    """Encode the reference speech with PyAV into `dst` (test material, not code under test)."""
    x = REFERENCE if rate == 16000 else soxr.resample(REFERENCE, 16000, rate).astype(np.float32)
    layout = "stereo" if channels == 2 else "mono"
    # A stereo file whose channels differ checks that decoding downmixes rather than picks one.
    data = np.stack([x * 0.8, x * 1.2]) if channels == 2 else x[None]
    with av.open(str(dst), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        stream.codec_context.options = options
        fmt = stream.codec_context.format
        size = 1024
        for i in range(0, data.shape[1], size):
            chunk = _to_format(data[:, i : i + size], fmt.name)
            if not fmt.is_planar:
                chunk = chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), fmt.name, layout)
            frame.sample_rate, frame.pts = rate, i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return dst


# name, container, codec, rate, channels, encoder options, minimum correlation
FORMATS = [
    ("speech.mp3", "mp3", "libmp3lame", 22050, 1, {}, 0.98),
    ("speech.ogg", "ogg", "vorbis", 16000, 2, {"strict": "experimental"}, 0.99),
    ("speech.opus", "ogg", "libopus", 48000, 1, {}, 0.99),
    ("speech.flac", "flac", "flac", 16000, 1, {}, 0.9999),
    ("speech.m4a", "ipod", "aac", 44100, 2, {}, 0.995),
    ("speech.webm", "webm", "libopus", 48000, 2, {}, 0.99),
    ("stereo44k.wav", "wav", "pcm_s16le", 44100, 2, {}, 0.999),
    ("speech8k.wav", "wav", "pcm_s16le", 8000, 1, {}, 0.99),  # loses the band above 4 kHz
    ("speech24bit.wav", "wav", "pcm_s24le", 48000, 1, {}, 0.999),
    ("speechfloat.wav", "wav", "pcm_f32le", 16000, 1, {}, 0.9999),
]


@pytest.fixture(scope="module")
def encoded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("formats")
    return {
        name: transcode(folder / name, container, codec, rate, channels, **opts)
        for name, container, codec, rate, channels, opts, _ in FORMATS
    }


def aligned_correlation(x: np.ndarray, ref: np.ndarray, max_lag: int = 800) -> tuple[float, int]:
    """Pearson correlation at the best lag within ±50 ms (codec delay), and that lag."""
    n = min(x.size, ref.size) - 2 * max_lag
    core = ref[max_lag : max_lag + n]
    scores = np.correlate(x[: n + 2 * max_lag], core, mode="valid")
    lag = int(np.argmax(scores)) - max_lag
    a = x[max_lag + lag : max_lag + lag + n]
    return float(np.corrcoef(a, core)[0, 1]), lag


@pytest.mark.parametrize(("name", "min_corr"), [(f[0], f[-1]) for f in FORMATS])
def test_decodes_to_16k_mono_speech(encoded: dict[str, Path], name: str, min_corr: float) -> None:
    audio = load_audio(encoded[name])
    assert audio.sample_rate == 16000
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert np.abs(audio.samples).max() <= 1.0
    assert audio.duration_s == pytest.approx(REFERENCE_S, abs=0.04)
    corr, lag = aligned_correlation(audio.samples, REFERENCE)
    assert corr > min_corr, f"{name}: correlation {corr:.4f} at lag {lag}"
    assert abs(lag) <= 16, f"{name}: FFmpeg should remove codec delay, lag {lag} samples"


def test_type_judged_by_content_not_extension(encoded: dict[str, Path], tmp_path: Path) -> None:
    disguised = tmp_path / "really-flac.mp3"
    shutil.copy(encoded["speech.flac"], disguised)
    no_extension = tmp_path / "speech"
    shutil.copy(encoded["speech.m4a"], no_extension)
    for source in (disguised, no_extension, encoded["speech.opus"].read_bytes()):
        audio = load_audio(source)
        assert audio.duration_s == pytest.approx(REFERENCE_S, abs=0.04)
        assert aligned_correlation(audio.samples, REFERENCE)[0] > 0.97


def test_other_output_rate_and_str_path() -> None:
    audio = load_audio(str(SPEECH_WAV), sample_rate=24000)
    assert audio.sample_rate == 24000
    assert audio.samples.size == pytest.approx(REFERENCE.size * 1.5, abs=2)
    back = resample(audio.samples, 24000, 16000)
    assert aligned_correlation(back, REFERENCE)[0] > 0.999


def test_resample() -> None:
    t = np.arange(48000) / 48000
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    out = resample(tone, 48000, 16000)
    assert out.dtype == np.float32 and out.size == 16000
    expected = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)
    assert np.abs(out[100:-100] - expected[100:-100]).max() < 1e-3
    assert resample(tone, 16000, 16000) is not None
    with pytest.raises(ValueError):
        resample(tone, 0, 16000)


def test_is_silent() -> None:
    rng = np.random.default_rng(0)
    assert not is_silent(Audio(REFERENCE, 16000))
    assert is_silent(Audio(np.zeros(16000, np.float32), 16000))
    hiss = (rng.standard_normal(16000) * 10 ** (-70 / 20)).astype(np.float32)  # -70 dBFS
    assert is_silent(Audio(hiss, 16000))
    assert not is_silent(Audio(hiss, 16000), threshold_dbfs=-80)
    click = np.zeros(160000, np.float32)
    click[5000:5080] = 0.9  # one 5 ms click in 10 s
    assert is_silent(Audio(click, 16000))
    # Speech filling 2 % of a long recording is still speech.
    long = np.zeros(16000 * 300, np.float32)
    long[:16000] = REFERENCE[16000:32000]
    assert not is_silent(Audio(long, 16000))
    assert is_silent(Audio(np.zeros(0, np.float32), 16000))


# --- bad inputs: each must be one clear line naming the file ----------------------------------


def assert_input_error(source: object, pattern: str, name: str | None = None, **kw: float) -> None:
    with pytest.raises(InputError) as info:
        load_audio(source, **kw)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    assert re.search(pattern, message), message
    if name:
        assert name in message, message


def test_missing_file(tmp_path: Path) -> None:
    assert_input_error(tmp_path / "nope.wav", r"not found", "nope.wav")


def test_directory(tmp_path: Path) -> None:
    assert_input_error(tmp_path, r"is a directory", tmp_path.name)


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.wav"
    shutil.copy(SPEECH_WAV, locked)
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: simulate what a normal user would get

        def refuse(self: Path, *args: object, **kwargs: object) -> None:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "open", refuse)
    assert_input_error(locked, r"cannot be read: permission denied", "locked.wav")


def test_text_renamed_wav(tmp_path: Path) -> None:
    fake = tmp_path / "notes.wav"
    fake.write_text("This is a shopping list, not a recording.\nmilk\neggs\n" * 20)
    assert_input_error(fake, r"is not an audio file", "notes.wav")


def test_jpeg_renamed_wav(tmp_path: Path) -> None:
    fake = tmp_path / "photo.wav"
    shutil.copy(MEDIA / "biden.jpg", fake)
    assert_input_error(fake, r"is an image .*not audio", "photo.wav")


def test_video_without_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent-film.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width = stream.height = 64
        stream.pix_fmt = "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i * 20, np.uint8), "rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert_input_error(path, r"has no audio track", "silent-film.mp4")


@pytest.mark.parametrize(
    ("name", "cut"),
    [("speech.flac", 0.5), ("speech.flac", 0.99), ("speech.mp3", 0.5), ("speech.m4a", 0.5),
     ("speech.webm", 0.5), ("stereo44k.wav", 0.5), ("speech24bit.wav", 0.8)],
)  # fmt: skip
def test_truncated(encoded: dict[str, Path], tmp_path: Path, name: str, cut: float) -> None:
    data = encoded[name].read_bytes()
    path = tmp_path / f"cut-{name}"
    path.write_bytes(data[: int(len(data) * cut)])
    assert_input_error(path, r"truncated", path.name)


def test_corrupt(encoded: dict[str, Path], tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    for name in ("speech.flac", "speech.m4a", "speech.mp3"):
        data = bytearray(encoded[name].read_bytes())
        middle = len(data) // 2
        data[middle : middle + 3000] = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
        path = tmp_path / f"corrupt-{name}"
        path.write_bytes(bytes(data))
        assert_input_error(path, r"damaged", path.name)
    header_only = encoded["speech.flac"].read_bytes()[:64]
    assert_input_error(header_only, r"damaged or truncated FLAC", "audio data")


def test_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert_input_error(empty, r"is empty", "empty.wav")
    assert_input_error(b"", r"is empty", "audio data")
    no_samples = tmp_path / "nosamples.wav"
    with wave.open(str(no_samples), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"")
    assert_input_error(no_samples, r"contains no audio samples", "nosamples.wav")


def test_too_long_from_header(encoded: dict[str, Path]) -> None:
    assert_input_error(
        encoded["speech.flac"], r"is 7\.10 s long; the limit is 2\.00 s", max_duration_s=2.0
    )


def test_too_long_stops_decoding_early(
    encoded: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file whose header does not state its length (e.g. a streamed MP3) must still be cut off
    # as soon as the limit is passed, not decoded to the end first.
    monkeypatch.setattr(decode_module, "_declared_duration_s", lambda *a: None)
    seen: list[int] = []
    to_mono = decode_module._frame_to_mono

    def counting(frame: av.AudioFrame) -> np.ndarray:
        seen.append(frame.samples)
        return to_mono(frame)

    monkeypatch.setattr(decode_module, "_frame_to_mono", counting)
    assert_input_error(encoded["speech.m4a"], r"longer than the 2\.00 s limit", max_duration_s=2.0)
    assert sum(seen) / 44100 < 2.2
