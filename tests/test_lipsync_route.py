"""/v1/lipsync: every export format of ``headcast lipsync`` over HTTP, from real speech."""

from __future__ import annotations

import json

import httpx
import pytest

from headcast.lipsync import lipsync
from headcast.motion.export import FORMATS, export, moho_dat, rhubarb_json, rhubarb_tsv
from tests.conftest import MEDIA, clip_text, clip_wav
from tests.support.servers import server_fixture

CLIP = "0930"  # 3.3 s with a transcript
CLIP_S = 3.29


server = server_fixture(api_keys=("k1",), max_text_chars=500)


def _post(server, data: dict | None = None, audio: bytes | None = None, name="speech.wav"):
    audio = clip_wav(CLIP).read_bytes() if audio is None else audio
    return httpx.post(
        server.base_url + "/v1/lipsync",
        headers={"X-API-Key": "k1"},
        files={"audio": (name, audio, "application/octet-stream")},
        data=data or {},
        timeout=120,
    )


def test_every_format_matches_the_library(server):
    expected = lipsync(clip_wav(CLIP), clip_text(CLIP), 25.0, sound_file="speech.wav")
    texts = {}
    for name, fmt in FORMATS.items():
        response = _post(server, {"text": clip_text(CLIP), "format": name})
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].split(";")[0] == fmt.mime_type
        assert f'filename="lipsync{fmt.extension}"' in response.headers["content-disposition"]
        if fmt.mime_type == "application/json":
            # The JSON formats carry the transcript's coverage as one more member.
            document = json.loads(response.text)
            assert document.pop("transcriptCoverage")["aligned_share"] == 1.0, name
            assert document == json.loads(export(expected, name)), name
        else:
            assert response.text == export(expected, name), name
        assert "aligned_share=1.0" in response.headers["x-transcript-coverage"], name
        texts[name] = response.text
    # The cues are about speech: they span the clip and several mouth shapes occur.
    track = rhubarb_json.read(texts["rhubarb-json"])
    assert track.duration_s == pytest.approx(CLIP_S, abs=0.2)
    assert track.sound_file == "speech.wav"
    assert len({cue.shape for cue in track.cues}) >= 5


def test_fps_and_options_reach_the_export(server):
    dat = _post(server, {"format": "dat", "fps": "60", "preston_blair": "true"}).text
    cues = moho_dat.read(dat, 60.0, preston_blair=True)
    assert cues[-1].end_s == pytest.approx(CLIP_S, abs=0.2)
    assert "MBP" in dat or "rest" in dat
    # Without a transcript the phones are recognised; a character without G, H and X.
    tsv = _post(server, {"extended_shapes": "none"}).text
    shapes = {cue.shape for cue in rhubarb_tsv.read(tsv)}
    assert shapes and shapes <= set("ABCDEF")


def _as_ogg_opus(wav: bytes) -> bytes:
    import io

    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(wav)) as source, av.open(out, "w", format="ogg") as sink:
        stream = sink.add_stream("libopus", rate=48_000)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
        for frame in source.decode(audio=0):
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    sink.mux(packet)
        for packet in stream.encode(None):
            sink.mux(packet)
    return out.getvalue()


def test_audio_is_judged_by_content_not_by_name(server):
    ogg = _as_ogg_opus(clip_wav("0880").read_bytes())
    response = _post(server, {"format": "rhubarb-json"}, audio=ogg, name="speech.png")
    assert response.status_code == 200, response.text
    wav_s = lipsync(clip_wav("0880")).duration_s
    assert rhubarb_json.read(response.text).duration_s == pytest.approx(wav_s, abs=0.2)


def test_bad_requests(server):
    wav = clip_wav(CLIP).read_bytes()
    cases = [
        ({"format": "flash"}, None, 422),
        ({"fps": "0"}, None, 422),
        ({"fps": "abc"}, None, 422),
        ({"extended_shapes": "Q"}, None, 422),
        ({"text": "word " * 200}, None, 422),  # over max_text_chars
        ({}, (MEDIA / "obama.jpg").read_bytes(), 422),  # a photo is not speech
        ({}, wav[: len(wav) // 3], 422),  # truncated
        ({}, b"", 422),
    ]
    for data, audio, status in cases:
        response = _post(server, data, audio)
        assert response.status_code == status, (data, response.text)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["message"]
    no_key = httpx.post(
        server.base_url + "/v1/lipsync", files={"audio": ("a.wav", wav)}, timeout=30
    )
    assert no_key.status_code == 401
