"""/v1/generate: OpenTalking's own FlashHead HTTP client gets frames of the portrait from it."""

from __future__ import annotations

import asyncio
import base64
import os

import av
import httpx
import numpy as np
from opentalking.providers.synthesis.flashhead.http_client import FlashHeadHTTPClient

from headcast.audio import load_audio
from headcast.face.image_io import load_image
from tests.conftest import MEDIA, SAMPLES, clip_wav
from tests.support.servers import running_server, server_config, server_fixture

FPS = 25
SAMPLE_RATE_HZ = 16_000


server = server_fixture(shared_dir=True, default_size_px=256)


def _speech_pcm(seconds: float) -> np.ndarray:
    audio = load_audio(clip_wav("0870"), sample_rate=SAMPLE_RATE_HZ)
    start = int(0.5 * SAMPLE_RATE_HZ)  # skip the leading pause
    chunk = audio.samples[start : start + int(seconds * SAMPLE_RATE_HZ)]
    return np.clip(chunk * 32767, -32768, 32767).astype(np.int16)


def test_flashhead_http_client_gets_frames_of_the_portrait(server, judge):
    client = FlashHeadHTTPClient(
        base_url=server.base_url,
        shared_local_dir=str(server.config.shared_dir),
        fps=FPS,
        sample_rate=SAMPLE_RATE_HZ,
        timeout_sec=120,
    )

    async def talk() -> tuple[list, list]:
        await client.init_session((MEDIA / "obama.jpg").read_bytes())
        try:
            speech = await client.generate(_speech_pcm(1.0))
            silence = await client.generate(np.zeros(SAMPLE_RATE_HZ, np.int16))
        finally:
            await client.close()
        return speech, silence

    speech, silence = asyncio.run(talk())
    # One second of audio at 25 fps is 25 frames, silence included (idle frames).
    assert len(speech) == FPS
    assert len(silence) == FPS
    first = speech[0]
    assert (first.width, first.height) == (256, 256)
    assert first.data.shape == (256, 256, 3)

    reference = load_image(MEDIA / "obama.jpg")
    reference_face = judge.measure(reference)
    frame_rgb = np.ascontiguousarray(speech[12].data[:, :, ::-1])  # the client gives BGR
    face = judge.measure(frame_rgb)
    assert face is not None, "no face in the generated frame"
    distance = judge.identity_distance(
        judge.embedding(reference, reference_face), judge.embedding(frame_rgb, face)
    )
    assert distance < 0.6, f"the generated face is not the portrait's person ({distance:.2f})"
    # The mouth moves while speaking: apertures over the speech chunk are not all equal.
    apertures = [
        judge.measure(np.ascontiguousarray(f.data[:, :, ::-1])).aperture for f in speech[::3]
    ]
    assert max(apertures) - min(apertures) > 0.02


def test_base64_and_data_uri_inputs_and_unknown_config_keys(server):
    image = base64.b64encode((SAMPLES / "astronaut.png").read_bytes()).decode()
    wav = base64.b64encode(clip_wav("0880").read_bytes()).decode()
    response = httpx.post(
        server.base_url + "/v1/generate",
        json={
            "task": "audio2video",
            "model": "soulx-flashhead-1.3b",
            "inputs": {"image": f"data:image/png;base64,{image}", "audio": wav},
            "config": {"fps": 20, "size": 192, "preset": "balanced", "nonsense": [1, 2]},
        },
        timeout=180,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "soulx-flashhead-1.3b"
    (output,) = body["outputs"]
    assert output["kind"] == "video" and output["mime"] == "video/mp4"
    assert (output["width"], output["height"]) == (192, 192)
    path = output["path"]
    assert os.path.dirname(path) == str(server.config.shared_dir / "headcast-output")
    with av.open(path) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        assert (stream.width, stream.height) == (192, 192)
        assert container.streams.audio, "the video carries the speech"
    assert frames == output["num_frames"]
    assert abs(frames / 20 - output["duration_s"]) < 0.2


def _generate(server, image: str, audio: str, **extra) -> httpx.Response:
    body = {"task": "audio2video", "inputs": {"image": image, "audio": audio}, **extra}
    return httpx.post(server.base_url + "/v1/generate", json=body, timeout=60)


def test_paths_must_stay_inside_the_shared_directory(server, tmp_path):
    shared = server.config.shared_dir
    (shared / "ref.jpg").write_bytes((MEDIA / "obama.jpg").read_bytes())
    outside = tmp_path / "secret.wav"
    outside.write_bytes(clip_wav("0870").read_bytes())
    (shared / "link.wav").symlink_to(outside)
    (shared / "linked-folder").symlink_to(tmp_path, target_is_directory=True)
    ref = str(shared / "ref.jpg")
    refused = {
        "/etc/passwd": 403,
        "../../../../etc/passwd": 403,
        str(shared / ".." / "x.wav"): 403,
        str(outside): 403,
        "link.wav": 403,  # a symlink inside that points outside
        "linked-folder/secret.wav": 403,
        "file:///etc/passwd": 403,
        "no-such.wav": 422,
        "http://127.0.0.1:1/speech.wav": 422,
        "https://169.254.169.254/latest/meta-data": 422,
        "data:audio/wav,not-base64-marked": 422,
    }
    for audio, status in refused.items():
        response = _generate(server, ref, audio)
        assert response.status_code == status, (audio, response.text)
        assert response.json()["error"]["message"].startswith("inputs.audio")
    assert _generate(server, ref, "http://10.0.0.1/a.wav").json()["error"]["code"] == (
        "url_not_allowed"
    )


def test_bad_requests_are_explained(server):
    shared = server.config.shared_dir
    (shared / "speech.wav").write_bytes(clip_wav("0890").read_bytes())
    (shared / "ref.jpg").write_bytes((MEDIA / "obama.jpg").read_bytes())
    cases = [
        ({"task": "text2video"}, "task"),
        ({"config": {"fps": "fast"}}, "config.fps"),
        ({"config": {"fps": 1000}}, "config.fps"),
        ({"config": {"size": 255}}, "config.size"),
        ({"config": {"head_motion": "maybe"}}, "config.head_motion"),
        ({"config": {"head_motion": "lots"}}, "config.head_motion"),
        ({"config": {"head_motion": 1.5}}, "config.head_motion"),
    ]
    for extra, field in cases:
        response = _generate(server, "ref.jpg", "speech.wav", **extra)
        assert response.status_code == 422, (extra, response.text)
        assert response.json()["error"]["message"].startswith(field)
    # The image and audio swapped: each is judged by its content.
    swapped = _generate(server, "speech.wav", "ref.jpg")
    assert swapped.status_code == 422
    assert "inputs.image" in swapped.json()["error"]["message"]


def test_without_a_shared_directory_generate_says_how_to_enable_it(tmp_path):
    config = server_config(tmp_path)
    with running_server(config) as server:
        response = _generate(server, "a.jpg", "b.wav")
    assert response.status_code == 503
    assert "HEADCAST_SHARED_DIR" in response.json()["error"]["message"]
