"""Hostile HTTP clients against real servers on loopback: keys no header can crash, keys kept
out of logs, anonymous bodies never read, stalled uploads dropped, slow heads cut off, wrong
keys throttled, 500s with the usual headers, the API docs local, one server per data dir."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets.sync.client
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from headcast.errors import InputError
from headcast.server import ServerConfig, create_app
from headcast.server.http.admission import route_rules
from tests.support.servers import free_port, running_server, server_config

KEY = "sesame-7f3a9c"
CHROMIUM = "/usr/bin/chromium"
AUTH = {"X-API-Key": KEY}
POLICY_VIOLATION = 1008
MB = 1024 * 1024


def _config(root: Path, **settings) -> ServerConfig:
    return server_config(root, shared_dir=True, api_keys=(KEY,), **settings)


def _raw_exchange(port: int, request: bytes, timeout_s: float = 10.0) -> tuple[int, dict, dict]:
    """Send ``request`` as is; (status, lower-cased headers, JSON body) of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        sock.sendall(request)
        data = _read_answer(sock)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split(" ", 2)[1]), headers, json.loads(body)


def _read_answer(sock: socket.socket) -> bytes:
    """One whole answer (head and ``Content-Length`` bytes of body) from ``sock``."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _port(server) -> int:
    return int(server.base_url.rsplit(":", 1)[1])


def _ws_refusal(url: str) -> tuple[dict, int]:
    """The error message and the close code of a refused WebSocket."""
    with websockets.sync.client.connect(url, open_timeout=10) as ws:
        message = json.loads(ws.recv(timeout=10))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None
    return message, closed.value.rcvd.code


# -- keys as bytes ---------------------------------------------------------------------------


def test_non_ascii_keys_are_refused_not_crashed(tmp_path):
    with running_server(_config(tmp_path)) as server:
        port = _port(server)
        for header in (
            b"X-API-Key: \xc3\xa9",
            b"X-API-Key: \xe9",
            b"Authorization: Bearer \xc3\xa9",
        ):
            status, _, body = _raw_exchange(
                port, b"GET /v1/avatars HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n"
            )
            assert (status, body["error"]["code"]) == (401, "unauthorized"), header
        status, _, body = _raw_exchange(
            port, b"GET /v1/avatars?api_key=%C3%A9 HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        assert (status, body["error"]["code"]) == (401, "unauthorized")
        message, code = _ws_refusal(server.ws_url + "/v1/stream?api_key=%C3%A9")
        assert message["type"] == "error" and message["code"] == "unauthorized"
        assert code == POLICY_VIOLATION


def test_a_non_ascii_key_works_as_utf8(tmp_path):
    key = "clé-✓"
    config = server_config(tmp_path, shared_dir=True, api_keys=(key,))
    with running_server(config) as server:
        ok = httpx.get(server.base_url + "/v1/avatars", headers={"X-API-Key": key.encode()})
        assert ok.status_code == 200, ok.text
        quoted = "cl%C3%A9-%E2%9C%93"
        with websockets.sync.client.connect(
            f"{server.ws_url}/v1/stream?api_key={quoted}", open_timeout=10
        ) as ws:
            ws.send(json.dumps({"type": "ping"}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}


# -- keys in URLs ----------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextlib.contextmanager
def _captured(*names: str) -> Iterator[_Records]:
    records = _Records()
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(records)
    try:
        yield records
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(records)
            logger.setLevel(level)


def test_query_keys_only_on_websockets_and_never_logged(tmp_path):
    with running_server(_config(tmp_path)) as server:
        with _captured("uvicorn.access", "uvicorn.error") as logged:
            in_url = httpx.get(f"{server.base_url}/v1/avatars?api_key={KEY}")
            assert in_url.status_code == 401
            assert "X-API-Key" in in_url.json()["error"]["message"]
            assert httpx.get(server.base_url + "/v1/avatars", headers=AUTH).status_code == 200
            with websockets.sync.client.connect(
                f"{server.ws_url}/v1/stream?api_key={KEY}&x=1", open_timeout=10
            ) as ws:
                ws.send(json.dumps({"type": "ping"}))
                assert json.loads(ws.recv(timeout=10)) == {"type": "pong"}
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and len(logged.lines) < 3:
                time.sleep(0.05)
        lines = "\n".join(logged.lines)
        assert "/v1/avatars?api_key=[redacted]" in lines, lines
        assert "/v1/stream?api_key=[redacted]&x=1" in lines, lines
        assert KEY not in lines, lines


# -- bodies of requests without a key ----------------------------------------------------------


def _process_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _temp_bytes(pid: int, temp_dir: Path) -> int:
    """Bytes in ``temp_dir``: its files, and those the process holds open there (a spool file
    is unlinked, or never named, as soon as it is made)."""
    sizes: dict[int, int] = {}
    for entry in temp_dir.rglob("*"):
        with contextlib.suppress(FileNotFoundError):
            info = entry.stat()
            sizes[info.st_ino] = info.st_size
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):
            if os.readlink(fd).startswith(str(temp_dir)):
                info = fd.stat()
                sizes[info.st_ino] = info.st_size
    return sum(sizes.values())


class _ServerProcess:
    def __init__(self, process: subprocess.Popen, port: int, temp_dir: Path) -> None:
        self.process, self.port, self.temp_dir = process, port, temp_dir
        self.base_url = f"http://127.0.0.1:{port}"

    def rss_bytes(self) -> int:
        return _process_rss_bytes(self.process.pid)

    def temp_bytes(self) -> int:
        return _temp_bytes(self.process.pid, self.temp_dir)


@pytest.fixture(scope="module")
def server_process(tmp_path_factory) -> Iterator[_ServerProcess]:
    """``headcast serve`` in a process of its own, so its memory and temp files are its own."""
    root = tmp_path_factory.mktemp("served")
    temp_dir = root / "tmp"
    temp_dir.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "TMPDIR": str(temp_dir),
        "HEADCAST_API_KEYS": KEY,
        "HEADCAST_PORT": str(port),
        "HEADCAST_DATA_DIR": str(root / "data"),
        "HEADCAST_MAX_UPLOAD_BYTES": str(16 * MB),
        "HEADCAST_BODY_READ_TIMEOUT_S": "1",
        "HEADCAST_SHARED_DIR": str(temp_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "headcast.cli", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    served = _ServerProcess(process, port, temp_dir)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(served.base_url + "/readyz", timeout=1).status_code == 200:
                    break
            assert process.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=20)


def _multipart_head(path: str, length: int, headers: str = "") -> tuple[bytes, bytes]:
    """A multipart upload's request head and the start of its one file part."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}"
        f"Content-Type: multipart/form-data; boundary=bnd\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    part = b'--bnd\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n\r\n'
    return head, part


def _send_most(sock: socket.socket, chunks: list[bytes]) -> None:
    """Send what the server reads; a server that hangs up early ends the sending."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for chunk in chunks:
            sock.sendall(chunk)


def test_anonymous_bodies_held_open_cost_nothing(server_process):
    """Ten anonymous uploads of 12 MB (under the 16 MB limit), all but their last bytes sent
    and held: five multipart (spooled to temp files when read) and five JSON (read to memory);
    and one more to a path no route serves."""
    declared, sent = 12 * MB, 11 * MB
    rss_before, temp_before = server_process.rss_bytes(), server_process.temp_bytes()
    held = []
    try:
        for i in range(11):
            sock = socket.create_connection(("127.0.0.1", server_process.port), timeout=10)
            held.append(sock)
            if i % 2 == 0:  # the last one to a path no route serves
                head, part = _multipart_head("/v1/avatars" if i < 10 else "/v1/nowhere", declared)
                body = [part] + [b"\xff" * MB] * (sent // MB)
            else:
                head = (
                    "POST /v1/generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {declared}\r\n\r\n"
                ).encode()
                body = [b'{"image": "'] + [b"A" * MB] * (sent // MB)
            _send_most(sock, [head, *body])
        time.sleep(1.0)  # a server that reads them has them by now
        rss_growth = server_process.rss_bytes() - rss_before
        temp_growth = server_process.temp_bytes() - temp_before
    finally:
        for sock in held:
            sock.close()
    assert rss_growth < 20 * MB, f"server grew {rss_growth / MB:.0f} MB"
    assert temp_growth < 20 * MB, f"temp files grew {temp_growth / MB:.0f} MB"


def test_stalled_and_abandoned_uploads_leave_nothing(server_process):
    head, part = _multipart_head("/v1/avatars", 8 * MB, f"X-API-Key: {KEY}\r\n")
    temp_before = server_process.temp_bytes()
    with socket.create_connection(("127.0.0.1", server_process.port), timeout=10) as sock:
        _send_most(sock, [head, part, b"\xff" * (4 * MB)])
        deadline = time.monotonic() + 10
        while server_process.temp_bytes() - temp_before < 3 * MB:  # spooled while it streams
            assert time.monotonic() < deadline, "the upload never reached a temp file"
            time.sleep(0.05)
        sock.settimeout(5)  # body_read_timeout_s is 1
        answer = _read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b'"body_timeout"' in answer and b"connection: close" in answer.lower()
    assert server_process.temp_bytes() - temp_before < MB

    with socket.create_connection(("127.0.0.1", server_process.port), timeout=10) as sock:
        _send_most(sock, [head, part, b"\xff" * (4 * MB)])
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    while server_process.temp_bytes() - temp_before >= MB:
        assert time.monotonic() < deadline, "an abandoned upload left its temp file"
        time.sleep(0.05)


class _Text(BaseModel):
    text: str


def test_a_route_reading_a_body_without_a_key_is_refused_at_build_time():
    app = FastAPI()

    @app.post("/open")
    async def open_route(body: _Text) -> dict:
        return {}

    with pytest.raises(ValueError, match="/open reads a request body"):
        route_rules(app.routes)


# -- slow request heads ------------------------------------------------------------------------


def test_half_sent_heads_are_closed_after_the_header_timeout(tmp_path):
    with running_server(_config(tmp_path, header_timeout_s=1.0)) as server:
        port = _port(server)
        half_sent = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
        for sock in half_sent:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        trickle = socket.create_connection(("127.0.0.1", port))
        try:
            started = time.monotonic()
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: 12345":
                if time.monotonic() - started > 2.5:
                    break
                with contextlib.suppress(OSError):
                    trickle.send(bytes([byte]))
                time.sleep(0.1)
            time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))
            for sock in [*half_sent, *silent, trickle]:
                sock.settimeout(0.5)
                try:
                    assert sock.recv(1024) == b"", "a slow head got an answer"
                except ConnectionResetError:
                    pass
                except TimeoutError:
                    pytest.fail("a connection with a half-sent head is still open")
            assert httpx.get(server.base_url + "/healthz").status_code == 200
            huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (80 * 1024) + b"\r\n\r\n"
            status, _, body = _raw_exchange(port, huge)
            assert (status, body["error"]["code"]) == (431, "too_large")
        finally:
            for sock in [*half_sent, *silent, trickle]:
                sock.close()


# -- wrong keys --------------------------------------------------------------------------------


def test_wrong_keys_are_throttled_per_address(tmp_path):
    with running_server(_config(tmp_path, auth_failures_per_min=5)) as server:
        url = server.base_url + "/v1/avatars"
        for _ in range(5):
            assert httpx.get(url, headers={"X-API-Key": "guess"}).status_code == 401
        for headers in ({"X-API-Key": "guess"}, AUTH):  # refused before any key is compared
            throttled = httpx.get(url, headers=headers)
            assert throttled.status_code == 429
            assert throttled.json()["error"]["code"] == "too_many_auth_failures"
            assert 1 <= int(throttled.headers["retry-after"]) <= 61
        message, code = _ws_refusal(server.ws_url + "/v1/stream?api_key=guess")
        assert message["code"] == "too_many_auth_failures" and code == POLICY_VIOLATION
        assert httpx.get(server.base_url + "/healthz").status_code == 200


def test_behind_a_trusted_proxy_the_client_address_is_throttled(tmp_path):
    # Every client of an ingress arrives from its address: one guesser must not lock out the rest.
    config = _config(tmp_path, auth_failures_per_min=3, trusted_proxies=("127.0.0.1",))
    with running_server(config) as server:
        url = server.base_url + "/v1/avatars"
        guesser = {"X-API-Key": "guess", "X-Forwarded-For": "203.0.113.7"}
        for _ in range(3):
            assert httpx.get(url, headers=guesser).status_code == 401
        assert httpx.get(url, headers=guesser).status_code == 429
        other_client = {**AUTH, "X-Forwarded-For": "198.51.100.4"}
        assert httpx.get(url, headers=other_client).status_code == 200


def test_an_untrusted_peer_cannot_choose_its_address(tmp_path):
    config = _config(tmp_path, auth_failures_per_min=3, trusted_proxies=("192.0.2.1",))
    with running_server(config) as server:
        url = server.base_url + "/v1/avatars"
        for n in range(3):
            spoofed = {"X-API-Key": "guess", "X-Forwarded-For": f"203.0.113.{n}"}
            assert httpx.get(url, headers=spoofed).status_code == 401
        fresh = {"X-API-Key": "guess", "X-Forwarded-For": "203.0.113.99"}
        assert httpx.get(url, headers=fresh).status_code == 429


# -- errors ------------------------------------------------------------------------------------


def test_unexpected_errors_carry_cors_and_security_headers(tmp_path):
    origin = "https://app.example"
    with running_server(_config(tmp_path, cors_origins=(origin,))) as server:

        async def broken() -> JSONResponse:
            raise RuntimeError("a bug")

        server.app.add_api_route("/test-only/broken", broken)
        response = httpx.get(server.base_url + "/test-only/broken", headers={"Origin": origin})
        assert response.status_code == 500
        assert response.json() == {"error": {"code": "internal", "message": "internal error"}}
        assert response.headers["access-control-allow-origin"] == origin
        assert response.headers["x-content-type-options"] == "nosniff"


def test_an_over_long_form_field_is_too_long(tmp_path):
    with running_server(_config(tmp_path)) as server:
        response = httpx.post(
            server.base_url + "/v1/jobs",
            headers=AUTH,
            data={"avatar_id": "0" * 32, "text": "a" * (MB + 10)},
            files={"audio": ("a.wav", b"RIFF")},  # multipart, like the web page's form
            timeout=30,
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "too_long"


# -- API docs ----------------------------------------------------------------------------------


def test_api_docs_are_local_under_a_content_security_policy(tmp_path):
    with running_server(_config(tmp_path)) as server:
        page = httpx.get(server.base_url + "/docs")
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert "//" not in page.text, "nothing from another origin"
        for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/start.js"):
            loaded = httpx.get(server.base_url + asset)
            assert loaded.status_code == 200 and len(loaded.content) > 100, asset
            assert loaded.headers["content-security-policy"] == policy
        assert httpx.get(server.base_url + "/docs/index.j2").status_code == 404
        assert httpx.get(server.base_url + "/redoc").status_code == 404


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"needs {CHROMIUM}")
def test_api_docs_render_in_a_browser_under_their_policy(tmp_path):
    from playwright.sync_api import sync_playwright

    with running_server(_config(tmp_path)) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            complaints: list[str] = []
            page.on("pageerror", lambda exc: complaints.append(str(exc)))
            page.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
            page.goto(server.base_url + "/docs")
            page.locator(".opblock-summary-path", has_text="/v1/jobs").first.wait_for(
                timeout=20_000
            )
            assert page.locator(".btn.authorize").count() == 1  # the key schemes are declared
            assert complaints == []  # a script or style the policy blocked shows up here
        finally:
            browser.close()


# -- the data directory ------------------------------------------------------------------------


async def _start_and_stop(app: FastAPI) -> None:
    async with app.router.lifespan_context(app):
        pass


def test_a_second_server_on_a_data_dir_refuses_before_touching_it(tmp_path):
    config = _config(tmp_path)
    with running_server(config):
        stale = config.data_dir / "animate" / "never-collected.webm"
        stale.write_bytes(b"video")
        two_hours_ago = time.time() - 7200
        os.utime(stale, (two_hours_ago, two_hours_ago))
        with pytest.raises(InputError, match="another headcast server"):
            asyncio.run(_start_and_stop(create_app(config)))
        assert stale.exists(), "the second server cleaned a directory it does not own"
