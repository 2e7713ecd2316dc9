"""Hostile and careless input across every route: each gets a 4xx JSON error, never a 5xx.

Keys on every non-public route, byte limits (declared, chunked, per upload), pixel limits and
decompression bombs, audio length, text length, types judged by content, truncated media,
path traversal, per-key rate limits and CORS — on real servers on loopback.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import re
import socket
import struct
import zlib

import httpx
import pytest
import websockets.sync.client
from fastapi.routing import APIRoute, APIWebSocketRoute

from tests.conftest import MEDIA, clip_text, clip_wav
from tests.support.servers import running_server, server_config, server_fixture

KEY = "good-key"
AUTH = {"X-API-Key": KEY}
MAX_UPLOAD_BYTES = 1024 * 1024
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/", "/live", "/openapi.json", "/docs"}
PUBLIC_PREFIXES = ("/static/", "/live/", "/docs/")
POLICY_VIOLATION = 1008


server = server_fixture(
    shared_dir=True,
    api_keys=(KEY,),
    max_upload_bytes=MAX_UPLOAD_BYTES,
    max_audio_s=5.0,
    max_image_pixels=4_000_000,
    max_text_chars=200,
    rate_limit_per_min=0,
    auth_failures_per_min=0,  # wrong keys on every route, on purpose; throttling: own test
)


def _assert_json_error(response: httpx.Response, status: int | tuple[int, ...], what: object):
    allowed = status if isinstance(status, tuple) else (status,)
    assert response.status_code in allowed, (what, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json"), what
    error = response.json()["error"]
    assert error["code"] and error["message"], what
    return error


# -- media made for the tests ------------------------------------------------------------------


def _png_header_only(width: int, height: int, idat: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """A real decompression bomb: 50000x50000 pixels (2.5 GB as RGB) in about 300 KB."""
    width = height = 50_000
    row = b"\x00" * (1 + width // 8)
    packer = zlib.compressobj(9)
    block = row * 256
    parts = [packer.compress(block) for _ in range(height // 256)]
    parts.append(packer.compress(row * (height % 256)))
    parts.append(packer.flush())
    data = _png_header_only(width, height, b"".join(parts))
    assert len(data) < MAX_UPLOAD_BYTES
    return data


@pytest.fixture(scope="module")
def flac_bombs() -> dict[str, bytes]:
    """Twenty minutes of audio in a few hundred KB, with its length in the header and without.

    Without it (a FLAC may leave STREAMINFO's sample count 0) only streaming decoding with a
    running total can stop it at the limit.
    """
    import av
    import numpy as np

    rate_hz, seconds, block_s = 8000, 1200, 10
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate_hz, layout="mono")
        block = np.zeros((1, rate_hz * block_s), np.int16)
        for i in range(seconds // block_s):
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = rate_hz, i * rate_hz * block_s
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    declared = out.getvalue()
    assert declared[:4] == b"fLaC" and len(declared) < MAX_UPLOAD_BYTES
    undeclared = bytearray(declared)
    streaminfo = 8  # after "fLaC" and the metadata block header
    undeclared[streaminfo + 13] &= 0xF0  # the 36-bit total sample count: high 4 bits ...
    undeclared[streaminfo + 14 : streaminfo + 18] = b"\x00\x00\x00\x00"  # ... and low 32
    return {"declared": declared, "undeclared": bytes(undeclared)}


def _big_png(width: int, height: int) -> bytes:
    return _png_header_only(width, height, zlib.compress(b"\x00" * ((1 + width // 8) * height), 9))


def _jpeg() -> bytes:
    return (MEDIA / "obama.jpg").read_bytes()


def _wav() -> bytes:
    return clip_wav("0880").read_bytes()


def _avatar_id(server) -> str:
    response = httpx.post(
        server.base_url + "/v1/avatars",
        headers=AUTH,
        files={"image": ("p.jpg", _jpeg())},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


# -- keys --------------------------------------------------------------------------------------


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "0" * 32, path)


def _all_routes(routes) -> list:
    """Routes of the app, looking inside included routers (FastAPI keeps them nested)."""
    found = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        found.extend(_all_routes(inner.routes) if inner is not None else [route])
    return found


def test_every_non_public_route_needs_a_key(server):
    checked = []
    for route in _all_routes(server.app.routes):
        path = getattr(route, "path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            continue
        if isinstance(route, APIRoute):
            for method in sorted(route.methods - {"HEAD"}):
                for headers in ({}, {"X-API-Key": "wrong"}, {"Authorization": "Bearer wrong"}):
                    response = httpx.request(
                        method, server.base_url + _concrete(path), headers=headers, timeout=30
                    )
                    _assert_json_error(response, 401, (method, path, headers))
                checked.append(f"{method} {path}")
        elif isinstance(route, APIWebSocketRoute):
            url = server.ws_url + _concrete(path)
            for suffix in ("", "?api_key=wrong"):
                with websockets.sync.client.connect(url + suffix, open_timeout=10) as ws:
                    try:
                        while True:
                            ws.recv(timeout=10)
                    except websockets.ConnectionClosed as closed:
                        assert closed.rcvd is not None and closed.rcvd.code == POLICY_VIOLATION
            checked.append(f"WS {path}")
    # The routes of this issue are all behind keys (others may add more).
    for needed in ("POST /v1/lipsync", "POST /v1/pick-reference", "POST /v1/generate"):
        assert needed in checked
    assert len(checked) >= 5


def test_public_routes_need_no_key(server):
    for path in ("/healthz", "/readyz", "/metrics", "/", "/static/index.js"):
        assert httpx.get(server.base_url + path).status_code == 200, path


# -- sizes -------------------------------------------------------------------------------------


def _raw_request(server, head: str, body_chunks=()) -> tuple[int, dict]:
    """Send a request by hand (no client library second-guessing it); (status, JSON body)."""
    port = int(server.base_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        sock.sendall(head.encode())
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server stopped reading: its answer is already on the way
        data = b""
        try:
            while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
                more = sock.recv(65536)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
    head_bytes, _, body = data.partition(b"\r\n\r\n")
    status = int(head_bytes.split(b" ", 2)[1])
    return status, json.loads(body)


def _length(data: bytes) -> int:
    found = re.search(rb"content-length: (\d+)", data.split(b"\r\n\r\n")[0], re.I)
    return int(found.group(1)) if found else 0


def test_declared_body_over_the_limit_is_refused_unread(server):
    head = (
        "POST /v1/lipsync HTTP/1.1\r\nHost: x\r\nX-API-Key: good-key\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n\r\n"
    )
    status, body = _raw_request(server, head)
    assert status == 413
    assert body["error"]["code"] == "too_large"


def test_chunked_body_over_the_limit_is_cut_off(server):
    limit = server.config.max_request_bytes
    head = (
        "POST /v1/lipsync HTTP/1.1\r\nHost: x\r\nX-API-Key: good-key\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    preamble = b'--b\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\n'
    piece = b"\x00" * 65536

    def chunks():
        yield b"%x\r\n%s\r\n" % (len(preamble), preamble)
        for _ in range(limit // len(piece) + 8):
            yield b"%x\r\n%s\r\n" % (len(piece), piece)
        yield b"0\r\n\r\n"

    status, body = _raw_request(server, head, chunks())
    assert status == 413
    assert body["error"]["code"] == "too_large"


def test_each_upload_is_limited(server):
    avatar_id = _avatar_id(server)
    big = b"\x00" * (MAX_UPLOAD_BYTES + 1)
    posts = {
        "/v1/lipsync": ({"audio": ("a.wav", big)}, {}),
        "/v1/avatars": ({"image": ("a.jpg", big)}, {}),
        "/animate": ({"audio": ("a.wav", big), "image": ("p.jpg", _jpeg())}, {}),
        "/v1/jobs": ({"audio": ("a.wav", big)}, {"avatar_id": avatar_id}),
        "/v1/pick-reference": ({"images": ("a.jpg", big)}, {}),
    }
    for path, (files, data) in posts.items():
        response = httpx.post(
            server.base_url + path, headers=AUTH, files=files, data=data, timeout=60
        )
        assert _assert_json_error(response, 413, path)["code"] == "too_large"
    encoded = base64.b64encode(big).decode()
    response = httpx.post(
        server.base_url + "/v1/generate",
        headers=AUTH,
        json={"task": "audio2video", "inputs": {"image": encoded, "audio": encoded}},
        timeout=60,
    )
    _assert_json_error(response, 413, "/v1/generate")


def test_decompression_bombs_are_refused_before_decoding(server, png_bomb):
    big = _big_png(8000, 6000)  # 48 MP against a 4 MP limit
    for photo, needle in ((png_bomb, "megapixel"), (big, "8000x6000")):
        attempts = {
            "/v1/avatars": httpx.post(
                server.base_url + "/v1/avatars", headers=AUTH,
                files={"image": ("p.png", photo)}, timeout=60,
            ),
            "/animate": httpx.post(
                server.base_url + "/animate", headers=AUTH,
                files={"image": ("p.png", photo), "audio": ("a.wav", _wav())}, timeout=60,
            ),
            "/v1/pick-reference": httpx.post(
                server.base_url + "/v1/pick-reference", headers=AUTH,
                files=[("images", ("p.png", photo)), ("images", ("q.jpg", _jpeg()))], timeout=60,
            ),
            "/v1/generate": httpx.post(
                server.base_url + "/v1/generate", headers=AUTH, timeout=60,
                json={"inputs": {"image": base64.b64encode(photo).decode(),
                                 "audio": base64.b64encode(_wav()).decode()}},
            ),
        }  # fmt: skip
        for path, response in attempts.items():
            error = _assert_json_error(response, 413, path)
            assert needle in error["message"], (path, error)
    assert httpx.get(server.base_url + "/healthz").status_code == 200


def test_audio_bombs_stop_at_the_length_limit(server, flac_bombs):
    avatar_id = _avatar_id(server)
    for kind, flac in flac_bombs.items():
        for path, files, data in (
            ("/v1/lipsync", {"audio": ("a.flac", flac)}, {}),
            ("/v1/jobs", {"audio": ("a.flac", flac)}, {"avatar_id": avatar_id}),
            ("/animate", {"audio": ("a.flac", flac), "image": ("p.jpg", _jpeg())}, {}),
        ):
            response = httpx.post(
                server.base_url + path, headers=AUTH, files=files, data=data, timeout=60
            )
            error = _assert_json_error(response, 422, (kind, path))
            assert "limit" in error["message"], (kind, path, error)


def test_compressed_request_bodies_are_not_inflated(server):
    bomb = gzip.compress(b"\x00" * (50 * MAX_UPLOAD_BYTES))
    response = httpx.post(
        server.base_url + "/v1/lipsync",
        headers={**AUTH, "Content-Encoding": "gzip",
                 "Content-Type": "multipart/form-data; boundary=b"},
        content=bomb,
        timeout=60,
    )  # fmt: skip
    _assert_json_error(response, (400, 422), "gzip body")


def test_audio_length_and_text_length_limits(server):
    long_speech = clip_wav("0870").read_bytes()  # 7 s against a 5 s limit
    response = httpx.post(
        server.base_url + "/v1/lipsync", headers=AUTH,
        files={"audio": ("a.wav", long_speech)}, timeout=60,
    )  # fmt: skip
    assert "limit" in _assert_json_error(response, 422, "long audio")["message"]
    # A WAV header that declares ten hours is refused from the header alone.
    header = bytearray(_wav()[:44])
    struct.pack_into("<I", header, 40, 16_000 * 2 * 36_000)
    response = httpx.post(
        server.base_url + "/v1/lipsync", headers=AUTH,
        files={"audio": ("a.wav", bytes(header) + b"\x00" * 32_000)}, timeout=60,
    )  # fmt: skip
    _assert_json_error(response, 422, "declared ten hours")
    avatar_id = _avatar_id(server)
    text = "word " * 100
    for path, files, data in (
        ("/v1/lipsync", {"audio": ("a.wav", _wav())}, {"text": text}),
        ("/v1/jobs", None, {"avatar_id": avatar_id, "text": text}),
        ("/animate", {"audio": ("a.wav", _wav()), "image": ("p.jpg", _jpeg())}, {"text": text}),
    ):
        response = httpx.post(
            server.base_url + path, headers=AUTH, files=files, data=data, timeout=60
        )
        assert "200" in _assert_json_error(response, 422, path)["message"]


# -- types, damage, traversal ------------------------------------------------------------------


def test_types_are_judged_by_content_and_damage_is_explained(server):
    avatar_id = _avatar_id(server)
    wav, jpeg = _wav(), _jpeg()
    html = b"<html><script>alert(1)</script></html>"
    cases = [
        ("/v1/avatars", {"image": ("photo.jpg", wav, "image/jpeg")}, {}),
        ("/v1/avatars", {"image": ("photo.jpg", jpeg[: len(jpeg) // 3], "image/jpeg")}, {}),
        ("/v1/avatars", {"image": ("photo.svg", html, "image/svg+xml")}, {}),
        ("/v1/lipsync", {"audio": ("speech.wav", jpeg, "audio/wav")}, {}),
        ("/v1/lipsync", {"audio": ("speech.wav", wav[: len(wav) // 4], "audio/wav")}, {}),
        ("/v1/lipsync", {"audio": ("speech.wav", b"RIFF\x00\x00", "audio/wav")}, {}),
        ("/animate", {"audio": ("a.wav", jpeg), "image": ("p.jpg", wav)}, {}),
        ("/animate", {"audio": ("a.wav", wav), "image": ("p.jpg", jpeg)}, {"format": "exe"}),
        ("/animate", {"audio": ("a.wav", wav), "image": ("p.jpg", jpeg)}, {"fps": "-3"}),
        ("/animate", {"audio": ("a.wav", wav), "image": ("p.jpg", jpeg)}, {"size": "99999"}),
        ("/v1/jobs", {"audio": ("a.wav", jpeg)}, {"avatar_id": avatar_id}),
        ("/v1/jobs", None, {"avatar_id": avatar_id}),
        ("/v1/jobs", None, {"avatar_id": "../../etc/passwd", "text": "hello"}),
        ("/v1/jobs", None, {"avatar_id": avatar_id, "text": "hi", "size": "abc"}),
        ("/v1/pick-reference", {"images": ("p.jpg", html)}, {}),
        ("/v1/pick-reference", None, {}),
    ]
    for path, files, data in cases:
        response = httpx.post(
            server.base_url + path, headers=AUTH, files=files, data=data, timeout=60
        )
        _assert_json_error(response, (404, 413, 415, 422), (path, data))
    for body in (b"{", b"[]", b'{"inputs": 5}', json.dumps({"inputs": {"image": 1}}).encode()):
        response = httpx.post(
            server.base_url + "/v1/generate",
            headers={**AUTH, "Content-Type": "application/json"},
            content=body,
            timeout=30,
        )
        _assert_json_error(response, 422, body)


def test_path_traversal_is_refused_everywhere(server):
    shared = server.config.shared_dir
    (shared / "speech.wav").write_bytes(_wav())
    for path in (
        "/v1/avatars/..%2F..%2Fetc%2Fpasswd",
        "/v1/avatars/..%2F..%2Fetc%2Fpasswd/image",
        "/v1/jobs/..%2F..%2Fetc%2Fpasswd",
        "/v1/jobs/..%2F..%2Fheadcast.sqlite3/video",
        "/static/..%2F..%2Fapp.py",
        "/static/%2E%2E%2Fconfig.py",
        "/live/..%2Fapp.py",
    ):
        response = httpx.get(server.base_url + path, headers=AUTH)
        _assert_json_error(response, (404, 422), path)
    for image in ("/etc/hostname", "../../../etc/hostname", str(shared / ".." / "data" / "x")):
        response = httpx.post(
            server.base_url + "/v1/generate",
            headers=AUTH,
            json={"inputs": {"image": image, "audio": "speech.wav"}},
            timeout=30,
        )
        assert _assert_json_error(response, 403, image)["code"] == "forbidden_path"


# -- rate limits and CORS ----------------------------------------------------------------------


def test_rate_limit_per_key_with_retry_after(tmp_path):
    config = server_config(tmp_path, api_keys=("a", "b"), rate_limit_per_min=3)
    with running_server(config) as server:
        for _ in range(3):
            assert (
                httpx.get(server.base_url + "/v1/avatars", headers={"X-API-Key": "a"}).status_code
                == 200
            )
        limited = httpx.get(server.base_url + "/v1/avatars", headers={"X-API-Key": "a"})
        _assert_json_error(limited, 429, "fourth request")
        assert 1 <= int(limited.headers["Retry-After"]) <= 61
        # Another key has its own allowance; the probes are never limited.
        assert (
            httpx.get(server.base_url + "/v1/avatars", headers={"X-API-Key": "b"}).status_code
            == 200
        )
        assert httpx.get(server.base_url + "/healthz").status_code == 200


def test_cors_only_for_configured_origins(tmp_path):
    config = server_config(tmp_path, api_keys=(KEY,), cors_origins=("https://app.example",))
    with running_server(config) as server:
        preflight = {"Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "x-api-key"}  # fmt: skip
        allowed = httpx.options(
            server.base_url + "/v1/lipsync", headers={"Origin": "https://app.example", **preflight}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = httpx.options(
            server.base_url + "/v1/lipsync", headers={"Origin": "https://evil.example", **preflight}
        )
        assert "access-control-allow-origin" not in other.headers
        # Errors carry the header too, so a browser page can read why it was refused.
        refused = httpx.get(
            server.base_url + "/v1/avatars", headers={"Origin": "https://app.example"}
        )
        assert refused.status_code == 401
        assert refused.headers["access-control-allow-origin"] == "https://app.example"


def test_a_transcript_is_not_a_way_around_the_limits(server):
    # A transcript right at the limit still works (the limit is not off by one).
    words = clip_text("0880")[:200]
    response = httpx.post(
        server.base_url + "/v1/lipsync", headers=AUTH,
        files={"audio": ("a.wav", _wav())}, data={"text": words}, timeout=60,
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.text.strip()
