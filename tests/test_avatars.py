"""``/v1/avatars`` on a real server: upload, analyse once, read back, list, delete."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image, ImageEnhance

from tests.conftest import MEDIA, SAMPLES
from tests.support.servers import running_server, server_config, server_fixture

CRITERIA = {"faces", "resolution", "pose", "eyes", "mouth", "sharpness", "exposure", "lighting"}


server = server_fixture(api_keys=("alice", "bob"))


def _client(server, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"X-API-Key": key}, timeout=60)


def _upload(client: httpx.Client, data: bytes, name: str = "portrait.jpg") -> httpx.Response:
    return client.post("/v1/avatars", files={"image": (name, data, "image/jpeg")})


def test_upload_analyse_read_list_delete(server):
    alice = _client(server, "alice")
    photo = (MEDIA / "obama.jpg").read_bytes()
    created = _upload(alice, photo, "../../etc/obama.jpg")
    assert created.status_code == 201, created.text
    avatar = created.json()
    assert created.headers["location"] == f"/v1/avatars/{avatar['id']}"
    assert (avatar["width"], avatar["height"]) == Image.open(io.BytesIO(photo)).size
    score = avatar["score"]
    assert score["filename"] == "obama.jpg", "the upload's name is shown, never used as a path"
    assert 0.0 < score["score"] <= 1.0
    assert set(score["criteria"]) >= CRITERIA
    assert all(0.0 <= c["score"] <= 1.0 and c["reason"] for c in score["criteria"].values())
    assert isinstance(score["reasons"], list) and score["reasons"]
    # This portrait smiles with teeth showing: the analysis says so, once, at upload.
    assert score["criteria"]["mouth"]["score"] < 0.5
    assert avatar["warnings"] == [], "a good photo overall"

    assert alice.get(f"/v1/avatars/{avatar['id']}").json() == avatar
    image = alice.get(f"/v1/avatars/{avatar['id']}/image")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/jpeg"
    assert image.content == photo

    png = (SAMPLES / "astronaut.png").read_bytes()
    second = _upload(alice, png, "astronaut.png").json()
    listed = alice.get("/v1/avatars").json()["avatars"]
    assert [a["id"] for a in listed] == [second["id"], avatar["id"]], "newest first"
    assert alice.get(f"/v1/avatars/{second['id']}/image").headers["content-type"] == "image/png"

    assert alice.delete(f"/v1/avatars/{avatar['id']}").status_code == 204
    gone = alice.get(f"/v1/avatars/{avatar['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "no_such_avatar"
    assert [a["id"] for a in alice.get("/v1/avatars").json()["avatars"]] == [second["id"]]
    stored = sorted(p.name for p in (server.config.data_dir / "avatars").iterdir())
    assert stored == [second["id"]], "the deleted avatar's files are gone"


def test_a_poor_photo_is_stored_with_warnings(server):
    dark = ImageEnhance.Brightness(Image.open(MEDIA / "obama.jpg")).enhance(0.15)
    out = io.BytesIO()
    dark.save(out, format="JPEG", quality=90)
    response = _upload(_client(server, "bob"), out.getvalue(), "dark.jpg")
    assert response.status_code == 201, response.text
    avatar = response.json()
    assert avatar["score"]["criteria"]["exposure"]["score"] < 0.2
    assert avatar["warnings"] and "underexposed" in avatar["warnings"][0]


def test_avatars_are_private_to_their_owner(server):
    alice, bob = _client(server, "alice"), _client(server, "bob")
    mine = _upload(alice, (MEDIA / "biden.jpg").read_bytes()).json()
    assert bob.get(f"/v1/avatars/{mine['id']}").status_code == 404
    assert bob.get(f"/v1/avatars/{mine['id']}/image").status_code == 404
    assert bob.delete(f"/v1/avatars/{mine['id']}").status_code == 404
    assert mine["id"] not in {a["id"] for a in bob.get("/v1/avatars").json()["avatars"]}
    assert alice.get(f"/v1/avatars/{mine['id']}").status_code == 200
    assert httpx.get(server.base_url + "/v1/avatars").status_code == 401


def _no_face_png() -> bytes:
    y, x = np.mgrid[0:480, 0:640]
    sky = np.stack([x % 256, y % 256, (x + y) % 256], axis=-1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(sky).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "says"),
    [
        (b"GIF89a not really", 422, "image"),
        ((MEDIA / "librivox-0880.wav").read_bytes(), 422, "image"),
        (_no_face_png(), 422, "no face"),
        (b"", 422, "empty"),
    ],
)
def test_bad_photos_are_refused_and_not_stored(server, data, status, says):
    bob = _client(server, "bob")
    before = bob.get("/v1/avatars").json()["avatars"]
    response = _upload(bob, data)
    assert response.status_code == status, response.text
    assert says in response.json()["error"]["message"]
    assert bob.get("/v1/avatars").json()["avatars"] == before


def test_photo_over_the_pixel_limit_is_refused(tmp_path):
    config = server_config(tmp_path, max_image_pixels=500_000)
    with running_server(config) as server:
        response = httpx.post(
            server.base_url + "/v1/avatars",
            files={"image": ("big.jpg", (MEDIA / "obama.jpg").read_bytes(), "image/jpeg")},
        )
    assert response.status_code == 413
    assert "megapixel" in response.json()["error"]["message"]
