"""End to end: the real CLI renders real photos speaking real speech; an independent model judges."""

from __future__ import annotations

import json
import os
from dataclasses import asdict

import numpy as np
import pytest

from quality import lipsync
from quality.video import read_video
from tests.conftest import (
    MEDIA,
    ROOT,
    SAMPLES,
    clip_text,
    clip_wav,
    reference_phones,
    run_cli,
)

FPS = 25


@pytest.fixture(scope="module")
def astronaut_mp4(tmp_path_factory):
    out = tmp_path_factory.mktemp("animate") / "astronaut.mp4"
    text_file = out.with_suffix(".txt")
    text_file.write_text(clip_text("0870"))
    result = run_cli(
        "animate",
        str(SAMPLES / "astronaut.png"),
        str(clip_wav("0870")),
        "--text",
        f"@{text_file}",
        "-o",
        str(out),
        "--no-head-motion",
        "-q",
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def astronaut_video(astronaut_mp4):
    return read_video(astronaut_mp4)


@pytest.fixture(scope="module")
def astronaut_measures(astronaut_video, judge):
    return judge.track(astronaut_video.frames)


def test_duration_frames_and_audio(astronaut_mp4, astronaut_video):
    import av

    audio_s = 113600 / 16000  # librivox-0870.wav
    assert abs(len(astronaut_video.frames) - audio_s * FPS) <= 1
    assert astronaut_video.fps == pytest.approx(FPS)
    assert astronaut_video.frames[0].shape == (512, 512, 3)
    with av.open(str(astronaut_mp4)) as container:
        codecs = {s.type: s.codec_context.name for s in container.streams}
    assert codecs == {"video": "h264", "audio": "aac"}
    assert abs(len(astronaut_video.audio) / 16000 - audio_s) < 0.1


def test_identity_is_kept(astronaut_video, astronaut_measures, judge):
    from headcast.face import load_image

    reference = load_image(SAMPLES / "astronaut.png")
    ref_measure = judge.measure(reference)
    ref_embedding = judge.embedding(reference, ref_measure)
    open_ear = np.median([m.ear for m in astronaut_measures if m is not None])
    for i in range(0, len(astronaut_video.frames), 30):
        emb = judge.embedding(astronaut_video.frames[i], astronaut_measures[i])
        # Shut lids move the embedding too: a blink's frames get a little more room.
        blinking = astronaut_measures[i].ear < 0.75 * open_ear
        limit = 0.45 if blinking else 0.4
        assert judge.identity_distance(ref_embedding, emb) < limit, f"frame {i}"


def test_lips_close_on_bilabials_and_in_silence(astronaut_video, astronaut_measures):
    phones = reference_phones("0870")
    assert sum(p.label in {"P", "B", "M"} for p in phones) >= 5
    assert lipsync.bilabial_closure(astronaut_measures, phones, FPS) >= 0.9
    assert lipsync.silence_rest(astronaut_measures, phones, FPS) >= 0.9


def test_mouth_opens_on_vowels(astronaut_measures):
    phones = reference_phones("0870")
    apertures = lipsync.apertures_of(astronaut_measures)
    open_vowels = [p for p in phones if p.label in {"AA", "AE", "AH", "AO", "AW", "AY", "EH"}]
    vowel_ap = []
    for p in open_vowels:
        idx = list(lipsync.frames_in(p.start_s, p.end_s, FPS, len(apertures)))
        if idx:
            vowel_ap.append(np.nanmax(apertures[idx]))
    assert len(vowel_ap) >= 5
    # Most open vowels visibly part the lips (judge's closed threshold is 0.04).
    assert np.mean(np.array(vowel_ap) > 0.06) >= 0.8
    expected = lipsync.expected_openness(phones, FPS, len(apertures))
    assert lipsync.openness_correlation(apertures, expected) >= 0.5


def test_av_sync(astronaut_video, astronaut_measures):
    apertures = lipsync.apertures_of(astronaut_measures)
    assert abs(lipsync.av_offset_frames(apertures, astronaut_video.audio, FPS)) <= 1


def test_quiet_means_silent_on_a_new_photo(tmp_path):
    """-q prints nothing on success, even where the photo is analysed for the first time
    (MediaPipe's native code logs to the process's stderr past Python)."""
    import cv2

    # A photo no run has seen: mirrored, with a corner pixel of its own.
    image = cv2.flip(cv2.imread(str(MEDIA / "biden.jpg")), 1)
    image[0, 0] = np.frombuffer(os.urandom(3), np.uint8)
    photo = tmp_path / "mirrored.png"
    cv2.imwrite(str(photo), image)
    out = tmp_path / "mirrored.mp4"
    result = run_cli("animate", str(photo), str(clip_wav("0880")), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert out.stat().st_size > 0


def test_webm_without_transcript(tmp_path, judge):
    import av

    out = tmp_path / "biden.webm"
    result = run_cli(
        "animate", str(MEDIA / "biden.jpg"), str(clip_wav("0880")), "-o", str(out), "-q"
    )
    assert result.returncode == 0, result.stderr
    with av.open(str(out)) as container:
        codecs = {s.type: s.codec_context.name for s in container.streams}
    assert codecs["video"] in {"vp9", "libvpx-vp9"} and codecs["audio"] in {"opus", "libopus"}
    video = read_video(out)
    assert abs(len(video.frames) - 3.0 * FPS) <= 1  # librivox-0880 lasts 2.99 s
    measures = judge.track(video.frames)
    apertures = lipsync.apertures_of(measures)
    # Recognition alone still opens the mouth while speaking and closes it at the start.
    assert np.nanmax(apertures) > 0.1
    assert np.nanmin(apertures[:5]) < 0.04


def test_reference_score_is_remembered_by_content(tmp_path):
    from headcast.face import load_image
    from headcast.face.reference_score import (
        poor_reference_warnings,
        score_photo,
        score_reference,
    )

    photo = tmp_path / "open-mouth.jpg"
    photo.write_bytes((MEDIA / "obama2.jpg").read_bytes())
    cache = tmp_path / "cache"
    fresh = score_reference(load_image(photo), str(photo))
    assert poor_reference_warnings(fresh), "a photo that animate warns about"

    assert asdict(score_photo(photo, str(photo), cache_dir=cache)) == asdict(fresh)
    [stored] = cache.glob("*.json")
    # Same bytes under another name: the stored score, told with the name it was given.
    upload = score_photo(photo.read_bytes(), "upload.jpg", cache_dir=cache)
    assert asdict(upload) == {**asdict(fresh), "path": "upload.jpg"}
    assert poor_reference_warnings(upload) == [
        line.replace("open-mouth.jpg", "upload.jpg") for line in poor_reference_warnings(fresh)
    ]
    assert list(cache.glob("*.json")) == [stored]

    # The stored file is what answers: an edited reason comes back ...
    data = json.loads(stored.read_text())
    for criterion in data["criteria"]:
        criterion["reason"] += " (as stored)"
    stored.write_text(json.dumps(data))
    assert all(
        line.endswith("(as stored)")
        for line in poor_reference_warnings(score_photo(photo, str(photo), cache_dir=cache))
    )
    # ... and a damaged one is scored afresh and written again.
    stored.write_text('{"score": ')
    assert asdict(score_photo(photo, str(photo), cache_dir=cache)) == asdict(fresh)
    assert json.loads(stored.read_text()) == json.loads(json.dumps(asdict(fresh)))


def test_cached_photo_gives_the_same_warnings(tmp_path):
    """A photo scored before (the score is stored beside its avatar) still gets its warnings."""
    from headcast.face import load_image
    from headcast.face.reference_score import (
        poor_reference_warnings,
        score_photo,
        score_reference,
    )

    photo = MEDIA / "obama2.jpg"
    expected = poor_reference_warnings(score_reference(load_image(photo), str(photo)))
    assert expected
    score_photo(photo, str(photo), cache_dir=ROOT / ".pytest_cache" / "avatars")  # as run_cli
    out = tmp_path / "obama2.mp4"
    result = run_cli("animate", str(photo), str(clip_wav("0880")), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    warned = [line for line in result.stderr.splitlines() if "as a reference photo" in line]
    assert warned == [f"headcast: warning: {line}" for line in expected]
    assert out.stat().st_size > 0


def test_motion_from_the_worker_gives_the_same_video(tmp_path):
    """Whether the motion comes from the worker process or from this one, the frames agree; a
    photo's first use is what makes ``animate`` start a worker by itself."""
    import cv2

    from headcast.animate import animate
    from headcast.face.avatar import is_prepared, prepare_avatar

    # Fresh bytes for a known face: neither cache has seen them.
    image = cv2.imread(str(MEDIA / "biden.jpg"))[:, ::-1].copy()
    image[0, 0] = np.random.default_rng().integers(0, 256, 3)  # unseen even on a rerun
    ok, encoded = cv2.imencode(".png", image)
    photo = encoded.tobytes()
    cache = tmp_path / "cache"
    assert ok and not is_prepared(photo, 256, cache)
    prepare_avatar(photo, 256, cache_dir=cache)
    assert is_prepared(photo, 256, cache)
    videos = []
    for in_worker in (True, False):
        out = tmp_path / f"worker-{in_worker}.mp4"
        animate(photo, clip_wav("0920"), out, text=clip_text("0920"), size=256,
                check_reference=False, motion_in_worker=in_worker)  # fmt: skip
        videos.append(read_video(out).frames)
    assert len(videos[0]) == len(videos[1]) > 50
    assert all(np.array_equal(a, b) for a, b in zip(*videos, strict=True))


def test_long_speech_renders_the_same_as_its_phones_arrive(tmp_path):
    """Long speech starts the worker by itself, even with its phones given, and the video
    rendered from the pieces as they arrive is the one rendered from all the phones at once."""
    import time

    from headcast.animate import OUTPUT_AUDIO_RATE_HZ, animate
    from headcast.audio import load_audio
    from headcast.audio.source import read_for_analysis, speech_source
    from headcast.face.avatar import prepare_avatar
    from headcast.live import motion_worker as worker
    from headcast.phones import phones_from_audio
    from tests.conftest import joined_clips

    audio, text = joined_clips()
    photo = (MEDIA / "biden.jpg").read_bytes()
    prepare_avatar(photo, 256)
    if worker._worker is not None:
        worker._worker.process.kill()
    for _ in range(50):
        if not worker.worker_running():
            break
        time.sleep(0.1)
    short = tmp_path / "short.mp4"
    known = phones_from_audio(load_audio(clip_wav("0880"), sample_rate=16000), clip_text("0880"))
    animate(photo, clip_wav("0880"), short, phones=known, size=256, check_reference=False)
    assert not worker.worker_running()  # analysed already, phones given, short: no worker
    # Found in the copy of the speech that animate analyses (read back from the video's rate).
    heard = read_for_analysis(speech_source(audio, OUTPUT_AUDIO_RATE_HZ)).analysis
    all_phones = phones_from_audio(heard, text)
    videos = []
    for in_worker in (None, False):
        out = tmp_path / f"long-{in_worker}.mp4"
        given = {"phones": all_phones} if in_worker is None else {"text": text}
        animate(photo, audio, out, **given, size=256, check_reference=False,
                motion_in_worker=in_worker)  # fmt: skip
        if in_worker is None:
            assert worker.worker_running()
        videos.append(read_video(out).frames)
    assert len(videos[0]) == len(videos[1]) == round(audio.duration_s * 25)
    assert all(np.array_equal(a, b) for a, b in zip(*videos, strict=True))


def _running_worker():
    from headcast.audio import load_audio
    from headcast.live import motion_worker as worker
    from headcast.motion.build import MotionOptions

    speech = load_audio(clip_wav("0880"), sample_rate=16000)
    worker.motion_in_worker(speech, MotionOptions()).result()
    assert worker._worker is not None
    return worker._worker


def test_motion_worker_dying_while_frames_render_leaves_no_video(tmp_path):
    from headcast.animate import animate
    from headcast.errors import HeadcastError
    from headcast.face.avatar import prepare_avatar
    from tests.conftest import joined_clips

    audio, text = joined_clips(repeats=4)  # still being decoded when the first frames render
    prepare_avatar(MEDIA / "biden.jpg", 256)
    running = _running_worker()

    def kill_after_the_first_frame(done: int, total: int) -> None:
        if done == 1:
            running.process.kill()  # the later pieces of the phones are still being found

    out = tmp_path / "never.mp4"
    with pytest.raises(HeadcastError, match="the motion worker stopped"):
        animate(MEDIA / "biden.jpg", audio, out, text=text, size=256, check_reference=False,
                motion_in_worker=True, progress=kill_after_the_first_frame)  # fmt: skip
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_a_failed_video_calls_its_motion_off(tmp_path):
    """A video that fails while its phones are still being found (here: no face in the photo)
    stops the worker's decoding, and the next request gets a worker of its own."""
    import subprocess

    import cv2

    from headcast.animate import animate
    from headcast.audio import load_audio
    from headcast.errors import InputError
    from headcast.live import motion_worker as worker
    from headcast.motion.build import MotionOptions
    from headcast.phones import phones_from_audio
    from tests.conftest import joined_clips

    audio, text = joined_clips(repeats=4)  # still being decoded when the first frames render
    curtain = tmp_path / "curtain.png"
    cv2.imwrite(str(curtain), cv2.imread(str(MEDIA / "obama.jpg"))[:400, :300])
    running = _running_worker()
    with pytest.raises(InputError, match="no face"):
        animate(curtain, audio, tmp_path / "never.mp4", text=text, size=256,
                check_reference=False, motion_in_worker=True)  # fmt: skip
    try:
        running.process.wait(timeout=10)  # decoding it all would take several times longer
    except subprocess.TimeoutExpired:
        pytest.fail("the motion worker went on decoding the speech of a failed video")
    speech = load_audio(clip_wav("0930"), sample_rate=16000)
    pending = worker.motion_in_worker(speech, MotionOptions(), transcript=clip_text("0930"))
    assert pending.result()[1] == phones_from_audio(speech, clip_text("0930"))
    assert worker._worker is not running and worker.worker_running()


def test_progress_bar_counts_the_frames_from_its_first_line(tmp_path):
    """The bar shows up with the number of frames to render, never as an empty count while the
    photo and speech are analysed; the summary names the file written."""
    out = tmp_path / "biden.mp4"
    result = run_cli("animate", str(MEDIA / "biden.jpg"), str(clip_wav("0880")), "-o", str(out))
    assert result.returncode == 0, result.stderr
    n_frames = len(read_video(out).frames)
    states = [s for s in result.stderr.replace("\n", "\r").split("\r") if "rendering" in s]
    assert states, result.stderr
    assert all(f"/{n_frames} " in s for s in states), states
    assert f"wrote {out} ({n_frames} frames" in result.stderr
