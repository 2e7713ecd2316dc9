"""/v1/pick-reference: several real photos in, a ranking with reasons out (CLI's JSON shape)."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

from headcast.face.reference_score import WEIGHTS, rank_references
from tests.conftest import MEDIA, SAMPLES
from tests.support.servers import server_fixture

PHOTOS = [MEDIA / "obama.jpg", MEDIA / "obama2.jpg", MEDIA / "biden.jpg", SAMPLES / "astronaut.png"]


server = server_fixture(api_keys=("k1",))


def _post(server, files: list[tuple[str, bytes]]) -> httpx.Response:
    return httpx.post(
        server.base_url + "/v1/pick-reference",
        headers={"Authorization": "Bearer k1"},
        files=[("images", (name, data, "image/jpeg")) for name, data in files],
        timeout=120,
    )


def test_ranking_matches_the_command_line(server):
    response = _post(server, [(p.name, p.read_bytes()) for p in PHOTOS])
    assert response.status_code == 200, response.text
    body = response.json()
    expected, _ = rank_references(PHOTOS)
    assert [e["filename"] for e in body["ranking"]] == [r.path.split("/")[-1] for r in expected]
    assert body["best"] == body["ranking"][0]["filename"]
    assert body["weights"] == WEIGHTS
    scores = [e["score"] for e in body["ranking"]]
    assert scores == sorted(scores, reverse=True)
    for entry, result in zip(body["ranking"], expected, strict=True):
        assert entry["score"] == pytest.approx(result.score, abs=1e-4)
        assert set(entry["criteria"]) == set(WEIGHTS)
        for criterion in entry["criteria"].values():
            assert 0.0 <= criterion["score"] <= 1.0 and criterion["reason"]
        assert entry["reasons"] and "path" not in entry
        assert entry["face_found"] and entry["usable"]


def test_a_photo_without_a_face_ranks_last_and_names_are_only_echoed(server):
    blank = io.BytesIO()
    Image.new("RGB", (400, 300), (120, 160, 200)).save(blank, "PNG")
    response = _post(
        server,
        [("../../etc/sky.png", blank.getvalue()), ("obama.jpg", PHOTOS[0].read_bytes())],
    )
    assert response.status_code == 200, response.text
    ranking = response.json()["ranking"]
    assert [e["filename"] for e in ranking] == ["obama.jpg", "sky.png"]
    assert ranking[1]["score"] == 0.0
    assert ranking[1]["criteria"]["faces"]["reason"] == "no face found"


def test_bad_uploads_name_the_file(server):
    jpeg = PHOTOS[0].read_bytes()
    cases = [
        ([("speech.jpg", (MEDIA / "librivox-0870.wav").read_bytes())], 422, "images[0]"),
        ([("ok.jpg", jpeg), ("cut.jpg", jpeg[: len(jpeg) // 2])], 422, "cut.jpg"),
        ([("empty.jpg", b"")], 422, "images[0]"),
        ([(f"{i}.jpg", jpeg) for i in range(17)], 422, "at most 16"),
    ]
    for files, status, needle in cases:
        response = _post(server, files)
        assert response.status_code == status, (needle, response.text)
        assert needle in response.json()["error"]["message"]
