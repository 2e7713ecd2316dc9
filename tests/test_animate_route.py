"""``POST /animate`` on a real server: real photos and speech in, a decodable video out."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.conftest import MEDIA, clip_text, clip_wav
from tests.support.servers import running_server, server_config, server_fixture
from tests.support.video_probe import probe_video

CLIP = "0880"  # 3.0 s of read speech
CLIP_S = 2.99


server = server_fixture()


def _animate(base_url: str, image: str = "obama.jpg", audio=None, **form) -> httpx.Response:
    files = {
        "audio": ("speech.wav", (audio or clip_wav(CLIP)).read_bytes(), "audio/wav"),
        "image": ("../../etc/passwd", (MEDIA / image).read_bytes(), "image/jpeg"),
    }
    return httpx.post(base_url + "/animate", files=files, data=form, timeout=120)


def test_webm_by_default_with_the_speech_and_a_face(server, judge, tmp_path):
    response = _animate(server.base_url, size="256")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/webm"
    assert response.headers["content-disposition"].startswith("attachment")
    video = probe_video(response.content)
    assert (video.video_codec, video.audio_codec) == ("vp9", "opus")
    assert (video.width, video.height) == (256, 256)
    assert video.frame_rate == pytest.approx(25.0)
    assert video.video_duration_s == pytest.approx(CLIP_S, abs=0.1)
    assert video.audio_duration_s == pytest.approx(CLIP_S, abs=0.1)
    assert judge.detect(video.middle_frame) is not None, "the video shows a face"
    # The upload's name was no path: nothing was written outside the data directory.
    outputs = list((server.config.data_dir / "animate").iterdir())
    assert outputs == [], "the temporary video is deleted once sent"


def test_mp4_with_transcript_fps_and_size(server):
    response = _animate(
        server.base_url, "obama2.jpg", text=clip_text(CLIP), format="mp4", fps="20", size="128"
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "video/mp4"
    video = probe_video(response.content)
    assert (video.video_codec, video.audio_codec) == ("h264", "aac")
    assert (video.width, video.height, video.frame_rate) == (128, 128, 20.0)
    assert video.video_duration_s == pytest.approx(CLIP_S, abs=0.1)


@pytest.mark.parametrize(
    ("form", "files", "status", "says"),
    [
        ({"format": "avi"}, {}, 422, "format"),
        ({"size": "255"}, {}, 422, "size"),
        ({"fps": "500"}, {}, 422, "fps"),
        ({}, {"audio": ("a.wav", b"this is not a sound", "audio/wav")}, 422, "audio"),
        ({}, {"image": ("a.jpg", b"\xff\xd8 not a photo", "image/jpeg")}, 422, "image"),
        ({}, {"audio": ("a.wav", b"", "audio/wav")}, 422, "empty"),
    ],
)
def test_bad_input_is_refused_with_a_json_error(server, form, files, status, says):
    upload = {
        "audio": ("s.wav", clip_wav(CLIP).read_bytes(), "audio/wav"),
        "image": ("p.jpg", (MEDIA / "obama.jpg").read_bytes(), "image/jpeg"),
        **files,
    }
    response = httpx.post(server.base_url + "/animate", files=upload, data=form, timeout=60)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert says in error["message"]
    assert "Traceback" not in error["message"]


def test_audio_longer_than_the_limit_is_refused(tmp_path):
    config = server_config(tmp_path, max_audio_s=1.0)
    with running_server(config) as server:
        response = _animate(server.base_url, size="128")
    assert response.status_code == 422
    assert "limit" in response.json()["error"]["message"]


def test_full_render_pool_answers_429_with_retry_after(tmp_path):
    config = server_config(tmp_path, workers=1, max_queued_jobs=1)
    responses: list[httpx.Response] = []
    with running_server(config) as server:

        def call() -> None:
            responses.append(_animate(server.base_url, size="128"))

        threads = [threading.Thread(target=call) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= 2, codes  # one running, one waiting
    refused = [r for r in responses if r.status_code == 429]
    assert refused, codes
    assert int(refused[0].headers["retry-after"]) > 0
    assert refused[0].json()["error"]["code"] == "busy"
