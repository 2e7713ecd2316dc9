"""The independent quality judge (dlib) is proven on real photos before it judges our video."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from quality import (
    FaceJudge,
    FaceMeasure,
    PhoneSpan,
    av_offset_frames,
    bilabial_closure,
    expected_openness,
    jitter,
    openness_correlation,
    read_video,
    silence_rest,
)
from quality.judge import JAW_OUTLINE, LEFT_EYE, RIGHT_EYE

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = {
    "astronaut": ROOT / "samples" / "astronaut.png",  # smiling, teeth showing
    "obama": ROOT / "tests" / "media" / "obama.jpg",  # broad smile, teeth showing
    "obama2": ROOT / "tests" / "media" / "obama2.jpg",  # speaking, mouth open
    "biden": ROOT / "tests" / "media" / "biden.jpg",  # lips closed
}


def _load(name: str) -> np.ndarray:
    bgr = cv2.imread(str(PHOTOS[name]))
    assert bgr is not None, PHOTOS[name]
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


@pytest.fixture(scope="module")
def judge() -> FaceJudge:
    return FaceJudge()


@pytest.fixture(scope="module")
def photos() -> dict[str, np.ndarray]:
    return {name: _load(name) for name in PHOTOS}


@pytest.fixture(scope="module")
def measures(judge: FaceJudge, photos: dict[str, np.ndarray]) -> dict[str, FaceMeasure]:
    found = {name: judge.measure(image) for name, image in photos.items()}
    for name, measure in found.items():
        assert measure is not None, f"no face found in {name}"
    return found  # type: ignore[return-value]


def _squeeze_shut(image: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Warp the band between two landmark polylines (shared corners) shut, as a blink/closure.

    Rows within ``reach`` of the band's midline are pulled toward it so that the band itself
    vanishes and the lids/lips meet; the effect fades out beyond the corners.
    """
    height, width = image.shape[:2]
    xs = np.arange(width, dtype=np.float32)
    y_up = np.interp(xs, upper[:, 0], upper[:, 1])
    y_low = np.interp(xs, lower[:, 0], lower[:, 1])
    mid, half = (y_up + y_low) / 2, np.maximum((y_low - y_up) / 2, 0)
    x0, x1 = upper[0, 0], upper[-1, 0]
    reach = 0.7 * (x1 - x0)
    weight = np.clip((1 - np.abs(xs - (x0 + x1) / 2) / ((x1 - x0) * 0.75)) * 1.6, 0, 1)
    ys = np.arange(height, dtype=np.float32)[:, None]
    offset = ys - mid
    dist = np.abs(offset)
    source = np.where(dist < reach, half + dist * (reach - half) / reach, dist)
    map_y = ys + (mid + np.sign(offset) * source - ys) * weight
    map_x = np.broadcast_to(xs, (height, width)).astype(np.float32)
    return cv2.remap(image, map_x, map_y.astype(np.float32), cv2.INTER_LINEAR)


# -- mouth ------------------------------------------------------------------------------------


def test_smiles_with_teeth_are_not_closed(measures: dict[str, FaceMeasure]) -> None:
    for name in ("astronaut", "obama"):
        m = measures[name]
        assert m.landmarks.shape == (68, 2)
        assert not m.lips_closed, name
        assert m.aperture > 0.08, (name, m.aperture)  # measured 0.11 / 0.17
        assert 0.5 < m.mouth_width < 1.0, (name, m.mouth_width)


def test_speaking_mouth_is_open(measures: dict[str, FaceMeasure]) -> None:
    m = measures["obama2"]
    assert not m.lips_closed
    assert m.aperture > 0.18  # measured 0.25, the widest of the four


def test_closed_lips_are_closed(measures: dict[str, FaceMeasure]) -> None:
    m = measures["biden"]
    assert m.lips_closed
    assert m.aperture < 0.025  # measured 0.010


def test_lips_warped_shut_read_closed(judge: FaceJudge, photos, measures) -> None:
    open_ = measures["astronaut"]
    lm = open_.landmarks
    shut = _squeeze_shut(photos["astronaut"], lm[[60, 61, 62, 63, 64]], lm[[60, 67, 66, 65, 64]])
    closed = judge.measure(shut)
    assert closed is not None
    assert closed.lips_closed, closed.aperture  # measured 0.011 (from 0.111)
    assert closed.aperture < open_.aperture / 4


# -- eyes -------------------------------------------------------------------------------------


def test_ear_drops_when_lids_are_warped_shut(judge: FaceJudge, photos, measures) -> None:
    # Painting skin over the eye does NOT work: dlib's shape prior keeps an open eye on Obama
    # and Biden (EAR unchanged). Pulling the real lids together, as a blink does, works.
    for name in ("astronaut", "obama"):
        m = measures[name]
        image = photos[name]
        for eye in (RIGHT_EYE, LEFT_EYE):
            pts = m.landmarks[list(eye)]
            image = _squeeze_shut(image, pts[[0, 1, 2, 3]], pts[[0, 5, 4, 3]])
        shut = judge.measure(image)
        assert shut is not None
        assert m.ear > 0.18, (name, m.ear)
        assert shut.ear < 0.75 * m.ear, (name, m.ear, shut.ear)  # measured x0.49 and x0.56


# -- identity ---------------------------------------------------------------------------------


def test_identity_distance(judge: FaceJudge, photos, measures) -> None:
    emb = {name: judge.embedding(photos[name], measures[name]) for name in ("obama", "obama2")}
    emb["biden"] = judge.embedding(photos["biden"], measures["biden"])
    assert emb["obama"].shape == (128,)
    assert judge.identity_distance(emb["obama"], emb["obama2"]) < 0.6  # measured 0.37
    assert judge.identity_distance(emb["obama"], emb["biden"]) > 0.6  # measured 0.84
    assert judge.identity_distance(emb["obama2"], emb["biden"]) > 0.6  # measured 0.76


# -- tracking ---------------------------------------------------------------------------------


def test_tracking_skips_detection_and_follows(judge: FaceJudge, photos, measures) -> None:
    image = photos["astronaut"]
    first = measures["astronaut"]
    assert first.detected
    again = judge.measure(image, first.box)
    assert again is not None and not again.detected
    assert np.abs(again.landmarks - first.landmarks).max() <= 1.0

    shifted = [np.roll(image, (2 * k, 3 * k), axis=(0, 1)) for k in range(8)]
    tracked = judge.track(shifted)
    assert all(m is not None for m in tracked)
    assert sum(m.detected for m in tracked) == 1  # type: ignore[union-attr]
    nose = np.array([m.landmarks[30] for m in tracked])  # type: ignore[union-attr]
    assert np.abs(nose[-1] - nose[0] - (21, 14)).max() <= 3  # moved 7 steps of (3, 2) px

    still = judge.track([image] * 4)
    assert jitter(still, JAW_OUTLINE) == 0.0


def test_track_notices_a_lost_face(judge: FaceJudge, photos) -> None:
    blank = np.full_like(photos["astronaut"], 128)
    results = judge.track([photos["astronaut"]] * 4 + [blank] * 2, redetect_every=5)
    assert results[0] is not None and results[3] is not None
    assert results[5] is None  # the local check at frame 5 finds no face, nor does a full search


# -- lip-sync metrics -------------------------------------------------------------------------


def _phones(spec: list[tuple[str, float, float]]) -> list[PhoneSpan]:
    return [PhoneSpan(label, start, end) for label, start, end in spec]


def test_bilabial_closure_and_silence_rest() -> None:
    fps = 25.0
    phones = _phones(
        [
            ("SIL", 0.0, 0.6),
            ("m", 0.6, 0.68),  # frames 15, 16
            ("AA1", 0.68, 1.0),
            ("B", 1.005, 1.025),  # no frame inside: judged on the nearest, 25
            ("IY", 1.025, 1.2),
            ("P", 1.2, 1.3),  # frames 30, 31, 32
            ("<sil>", 1.3, 2.0),
        ]
    )
    closed = np.zeros(50, dtype=bool)
    closed[:15] = True  # rest before speech
    closed[16] = True  # M closes on its second frame
    closed[25] = True  # B on its nearest frame
    closed[31] = True  # P
    assert bilabial_closure(closed, phones, fps) == 1.0
    apertures = np.where(closed, 0.01, 0.2)
    assert bilabial_closure(apertures, phones, fps) == 1.0
    closed[25] = False
    assert bilabial_closure(closed, phones, fps) == pytest.approx(2 / 3)
    # silences trimmed by 0.1 s: frames 3-12 (all closed) and 35-47 (all open)
    assert silence_rest(closed, phones, fps) == pytest.approx(10 / 23)
    with_missing = [None if i == 5 else bool(c) for i, c in enumerate(closed)]
    assert silence_rest(with_missing, phones, fps) == pytest.approx(9 / 23)
    assert np.isnan(bilabial_closure(closed, phones[:1], fps))


def test_openness_correlation_follows_phones() -> None:
    fps = 25.0
    phones = _phones([("SIL", 0, 0.4), ("M", 0.4, 0.5), ("AA", 0.5, 0.9), ("P", 0.9, 1.0)])
    expected = expected_openness(phones, fps, 25)
    assert expected[0] == 0.0 and expected[15] == 1.0
    noisy = expected * 0.3 + np.random.default_rng(0).normal(0, 0.02, 25)
    assert openness_correlation(noisy, expected) > 0.9
    assert openness_correlation(-noisy, expected) < -0.9


@pytest.mark.parametrize("shift", [2, 0, -1])
def test_av_offset_finds_a_known_shift(shift: int) -> None:
    fps, sr, n = 25.0, 16_000, 150
    rng = np.random.default_rng(1)
    envelope = np.convolve(rng.random(n + 20), np.ones(3) / 3, mode="same")[10 : 10 + n]
    per_frame = int(sr / fps)
    carrier = rng.normal(0, 1, n * per_frame)
    audio = (carrier * np.repeat(envelope, per_frame)).astype(np.float32)
    # Frame i's mouth shows the sound at frame i - shift: the video is `shift` frames late.
    apertures = np.roll(envelope, shift) * 0.2
    assert av_offset_frames(apertures, audio, fps, max_lag=5) == shift


# -- video reading ----------------------------------------------------------------------------


def test_read_video_returns_frames_and_aligned_audio(tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    fps, n_frames, rate = 25, 30, 48_000
    tone_start_s = 0.4
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "stereo"
        for i in range(n_frames):
            rgb = np.full((48, 64, 3), i * 8, dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        container.mux(video.encode())
        t = np.arange(int(rate * n_frames / fps)) / rate
        wave = np.where(t >= tone_start_s, 0.5 * np.sin(2 * np.pi * 440 * t), 0).astype(np.float32)
        for k in range(0, len(wave), 1024):
            block = np.ascontiguousarray(np.tile(wave[k : k + 1024], (2, 1)))
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = rate, k
            for packet in audio.encode(frame):
                container.mux(packet)
        container.mux(audio.encode())

    frames, got_fps, samples, duration = read_video(path)
    assert len(frames) == n_frames
    assert frames[0].shape == (48, 64, 3) and frames[0].dtype == np.uint8
    assert abs(int(frames[10][0, 0, 0]) - 80) <= 4
    assert got_fps == fps
    assert duration == pytest.approx(n_frames / fps, abs=0.05)
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert abs(len(samples) - 16_000 * n_frames / fps) < 400
    onset = int(np.argmax(np.abs(samples) > 0.1)) / 16_000
    assert onset == pytest.approx(tone_start_s, abs=0.01)  # audio sample 0 = first frame

    lazy = read_video(path, lazy=True)
    assert sum(1 for _ in lazy.frames) == n_frames


def test_lipsync_verdict_judges_a_render_of_a_known_recording(
    judge: FaceJudge, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from headcast.animate import animate
    from headcast.audio import Audio, load_audio
    from quality.lipsync_verdict import (
        as_json,
        judge_render,
        load_reference,
        main,
        speech_start_s,
        verdict,
    )

    # Idle frames, then a recording with a reference alignment.
    media = ROOT / "tests" / "media"
    clip = load_audio(media / "librivox-0870.wav")
    lead_s, rate = 0.6, clip.sample_rate
    speech = np.concatenate([np.zeros(round(lead_s * rate), np.float32), clip.samples])
    out = tmp_path / "render.mp4"
    text = (media / "librivox-0870.txt").read_text()
    animate(PHOTOS["obama"], Audio(speech, rate), out, text=text, size=256, check_reference=False)

    judged = judge_render(out, judge)
    figures = json.loads(as_json(verdict(judged, load_reference("0870"))))
    assert figures["frames"] == round(len(speech) / rate * 25) and figures["fps"] == 25
    assert figures["speech_start_s"] == pytest.approx(lead_s, abs=0.01)
    assert figures["face_share"] >= 0.95
    assert figures["bilabial_closure"] >= 0.8
    assert figures["silence_rest"] >= 0.9
    assert figures["openness_correlation"] >= 0.5
    assert abs(figures["av_offset_frames"]) <= 1
    assert figures["aperture_min"] < 0.04 < 0.1 < figures["aperture_max"]

    # Without reference phones: the A/V offset and the speech/aperture correlation only.
    plain = json.loads(as_json(verdict(judged)))
    assert "bilabial_closure" not in plain and "speech_start_s" not in plain
    assert plain["av_offset_frames"] == figures["av_offset_frames"]
    assert plain["speech_aperture_correlation"] >= 0.4

    # Another recording is not found in this one's audio; an unknown one is no verdict.
    with pytest.raises(ValueError, match="not in the video's audio"):
        speech_start_s(judged.audio, load_reference("0880").audio)
    assert main([str(out), "--phones-of", "0000"]) == 1
    assert "no reference alignment" in capsys.readouterr().err
