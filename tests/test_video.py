"""Video encoding: frames + speech → MP4/WebM, checked by decoding the result back with PyAV."""

from __future__ import annotations

import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from headcast.audio import Audio, load_audio
from headcast.errors import HeadcastError, InputError
from headcast.face import load_image
from headcast.video import VideoWriter, encode_jpeg
from headcast.video.encode import to_yuv420p

MEDIA = Path(__file__).parent / "media"
SAMPLES = Path(__file__).parent.parent / "samples"
W, H, FPS = 320, 240, 25


@pytest.fixture(scope="module")
def speech() -> Audio:
    full = load_audio(MEDIA / "librivox-0870.wav")
    return Audio(full.samples[: 3 * 16000], 16000)  # 3.0 s


def synthetic_frame(i: int) -> np.ndarray:
    """A gradient with a moving disk and a moving bar: motion the encoder has to follow."""
    y, x = np.mgrid[0:H, 0:W]
    frame = np.empty((H, W, 3), np.uint8)
    frame[..., 0] = (x * 255 // W).astype(np.uint8)
    frame[..., 1] = (y * 255 // H).astype(np.uint8)
    frame[..., 2] = 96
    cx = int(W / 2 + 100 * math.sin(i / 10))
    cy = int(H / 2 + 60 * math.cos(i / 13))
    cv2.circle(frame, (cx, cy), 30, (250, 220, 40), -1, lineType=cv2.LINE_AA)
    cv2.rectangle(frame, ((i * 4) % W, 20), ((i * 4) % W + 12, 80), (20, 20, 20), -1)
    return frame


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * math.log10(255**2 / max(mse, 1e-12))


def write_video(path: Path, audio: Audio | None, n_frames: int, **kw: int) -> None:
    with VideoWriter(path, W, H, FPS, audio, **kw) as writer:
        for i in range(n_frames):
            writer.write(synthetic_frame(i))


@pytest.mark.parametrize(
    ("ext", "video_codec", "audio_codec"), [(".mp4", "h264", "aac"), (".webm", "vp9", "opus")]
)
def test_writes_av_in_sync(
    tmp_path: Path, speech: Audio, ext: str, video_codec: str, audio_codec: str
) -> None:
    path = tmp_path / f"talk{ext}"
    n_frames = math.ceil(speech.duration_s * FPS)
    write_video(path, speech, n_frames)
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left

    with av.open(str(path)) as container:
        v_stream, a_stream = container.streams.video[0], container.streams.audio[0]
        assert v_stream.codec_context.name == video_codec
        assert a_stream.codec_context.name == audio_codec
        assert (v_stream.codec_context.width, v_stream.codec_context.height) == (W, H)
        assert a_stream.codec_context.sample_rate == 48000
        frames = list(container.decode(v_stream))
    assert len(frames) == n_frames
    times = np.array([f.time for f in frames])
    assert np.allclose(times, np.arange(n_frames) / FPS, atol=1e-3)  # frame i shows at i/fps
    video_s = n_frames / FPS
    assert abs(video_s - speech.duration_s) <= 1 / FPS
    for i in (0, n_frames // 2, n_frames - 1):
        assert psnr(frames[i].to_ndarray(format="rgb24"), synthetic_frame(i)) > 30

    with av.open(str(path)) as container:
        audio_frames = list(container.decode(audio=0))
    assert audio_frames[0].time == pytest.approx(0.0, abs=1e-3)
    decoded = load_audio(path)  # the decoder under test elsewhere, here as a consumer
    assert decoded.duration_s == pytest.approx(speech.duration_s, abs=0.04)
    # Same samples at lag 0: the audio starts with the first frame.
    ref = speech.samples[200:-200]
    lags = list(range(-160, 161, 4))
    scores = [np.dot(decoded.samples[200 + k : 200 + k + ref.size], ref) for k in lags]
    assert abs(lags[int(np.argmax(scores))]) <= 16  # within 1 ms
    assert np.corrcoef(decoded.samples[: speech.samples.size], speech.samples)[0, 1] > 0.98


def test_mp4_keeps_a_portrait_close_in_few_bytes(tmp_path: Path) -> None:
    """A real portrait drifting slowly, as a talking head does: what the encoder settings are for.

    Luma is compared with the frames as converted for the encoder, so this measures the
    encoder alone. Cheaper presets on their own trade bytes for speed (plain superfast takes
    about three times the bytes here); the settings must keep both.
    """
    photo = cv2.resize(
        load_image(SAMPLES / "astronaut.png"), (W + 32, H + 32), interpolation=cv2.INTER_AREA
    )

    def frame(i: int) -> np.ndarray:
        dx, dy = round(8 + 8 * math.sin(i / 9)), round(8 + 6 * math.sin(i / 13))
        return np.ascontiguousarray(photo[dy : dy + H, dx : dx + W])

    n_frames = 75
    path = tmp_path / "portrait.mp4"
    with VideoWriter(path, W, H, FPS, None) as writer:
        for i in range(n_frames):
            writer.write(frame(i))
    with av.open(str(path)) as container:
        decoded = [f.to_ndarray()[:H] for f in container.decode(video=0)]
    assert len(decoded) == n_frames
    luma_psnr = [psnr(y, to_yuv420p(frame(i)).to_ndarray()[:H]) for i, y in enumerate(decoded)]
    assert min(luma_psnr) > 40  # 41-42 dB measured
    bits_per_pixel = path.stat().st_size * 8 / (n_frames * W * H)
    assert bits_per_pixel < 0.07  # 0.044 measured; plain superfast: 0.12


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_colours_survive_as_the_stream_is_tagged(tmp_path: Path, suffix: str) -> None:
    """A photo and flat patches of strong colour, decoded back by FFmpeg's own conversion
    reading the file as BT.709 limited range (how it is tagged), come back as they went in."""
    photo = cv2.resize(load_image(SAMPLES / "astronaut.png"), (W, H), interpolation=cv2.INTER_AREA)
    patches = np.zeros((H, W, 3), np.uint8)
    colours = [(200, 30, 30), (30, 180, 40), (40, 50, 210), (128, 128, 128), (240, 220, 200)]
    for k, colour in enumerate(colours):
        patches[:, k * W // len(colours) : (k + 1) * W // len(colours)] = colour
    path = tmp_path / f"colours{suffix}"
    with VideoWriter(path, W, H, FPS, None) as writer:
        for i in range(10):
            writer.write(photo if i < 5 else patches)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.colorspace == 1  # BT.709
        decoded = [
            f.reformat(format="rgb24", src_colorspace="ITU709", src_color_range="MPEG").to_ndarray()
            for f in container.decode(video=0)
        ]
    assert psnr(decoded[2], photo) > 32  # 33.6 (MP4) and 36.0 (WebM) measured; 4:2:0 alone 37
    for k, colour in enumerate(colours):
        x = (k + 0.5) * W / len(colours)
        centre = decoded[8][H // 2 - 10 : H // 2 + 10, int(x) - 10 : int(x) + 10]
        assert np.abs(centre.reshape(-1, 3).mean(0) - colour).max() < 4, (colour, centre[0, 0])


def test_yuv_conversion_matches_the_bt709_formula() -> None:
    """Luma per pixel and chroma per 2x2 block, against the standard's equations in floats."""
    rgb = cv2.resize(load_image(SAMPLES / "astronaut.png"), (W, H), interpolation=cv2.INTER_AREA)
    planes = to_yuv420p(rgb).to_ndarray().astype(np.float64)
    r, g, b = (rgb[..., c].astype(np.float64) / 255 for c in range(3))
    luma = 0.2126 * r + 0.7152 * g + 0.0722 * b
    y = 16 + 219 * luma
    cb = 128 + 224 * (b - luma) / 1.8556
    cr = 128 + 224 * (r - luma) / 1.5748
    assert np.abs(planes[:H] - y).max() <= 1.0
    for got, want in ((planes[H : H + H // 4], cb), (planes[H + H // 4 :], cr)):
        block_means = want.reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))
        assert np.abs(got.reshape(H // 2, W // 2) - block_means).max() <= 1.0


def test_mp4_is_faststart_and_audio_rate_option(tmp_path: Path, speech: Audio) -> None:
    path = tmp_path / "fast.mp4"
    write_video(path, speech, 10, audio_rate=24000)
    data = path.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # playable while downloading
    with av.open(str(path)) as container:
        assert container.streams.audio[0].codec_context.sample_rate == 24000


def test_video_only(tmp_path: Path) -> None:
    path = tmp_path / "mute.webm"
    write_video(path, None, 5)
    with av.open(str(path)) as container:
        assert len(container.streams.audio) == 0
        assert len(list(container.decode(video=0))) == 5


def test_exception_inside_with_leaves_nothing(tmp_path: Path, speech: Audio) -> None:
    path = tmp_path / "broken.mp4"
    with (
        pytest.raises(RuntimeError, match="renderer failed"),
        VideoWriter(path, W, H, FPS, speech) as writer,
    ):
        for i in range(20):
            writer.write(synthetic_frame(i))
        raise RuntimeError("renderer failed")
    assert list(tmp_path.iterdir()) == []


def test_failed_close_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "empty.webm"
    with (
        pytest.raises(HeadcastError, match="no frames were written"),
        VideoWriter(path, W, H, FPS, None),
    ):
        pass
    assert list(tmp_path.iterdir()) == []


def test_bad_frame_is_rejected_and_leaves_nothing(tmp_path: Path) -> None:
    with (
        pytest.raises(ValueError, match="240x320x3 uint8"),
        VideoWriter(tmp_path / "x.mp4", W, H, FPS, None) as writer,
    ):
        writer.write(np.zeros((H, W), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unsupported extension '\.avi' \(use \.mp4, \.webm\)"):
        VideoWriter(tmp_path / "clip.avi", W, H, FPS, None)
    assert list(tmp_path.iterdir()) == []


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        VideoWriter(tmp_path / "no" / "such" / "clip.mp4", W, H, FPS, None)


def test_encode_jpeg() -> None:
    frame = synthetic_frame(7)
    data = encode_jpeg(frame, quality=90)
    assert data[:2] == b"\xff\xd8"
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    back = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert psnr(back, frame) > 30
    assert len(encode_jpeg(frame, quality=30)) < len(data)
