"""The engines listed by ``headcast engines`` and ``GET /v1/engines``, with what each can do."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import httpx

from headcast.render import (
    EngineCapabilities,
    EngineInput,
    EngineKind,
    get_engine,
    register_engine,
    unregister_engine,
)
from tests.conftest import run_cli
from tests.support.servers import free_port, running_server, server_config, server_fixture

KEY = "engines-key"
server = server_fixture(api_keys=(KEY,))


class _RemoteOnly:
    """Declared only: listing an engine never starts it."""

    capabilities = EngineCapabilities(
        kind=EngineKind.REMOTE,
        remote_input=EngineInput.AUDIO,
        audio_rate_hz=16000,
        audio_lookahead_ms=320.0,
        frame_latency_ms=150.0,
        min_size_px=512,
        max_size_px=512,
    )

    def start(self, avatar):
        raise AssertionError("listing starts no engine")


def test_engines_command_lists_warp_with_what_it_can_do():
    table = run_cli("engines")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["ENGINE", "KIND", "SIZE"]
    warp = next(r for r in rows if r.startswith("warp"))
    assert "(default)" in warp and "128–1024" in warp and "5–60" in warp and " yes " in warp

    listing = run_cli("engines", "--json")
    assert listing.returncode == 0, listing.stderr
    body = json.loads(listing.stdout)
    assert body["default"] == "warp"
    assert body["engines"]["warp"] == json.loads(
        json.dumps(get_engine("warp").capabilities.as_dict())
    )


def test_engines_endpoint_lists_each_engine_by_name_behind_the_key(server):
    assert httpx.get(server.base_url + "/v1/engines").status_code == 401
    register_engine("test-remote-listed", _RemoteOnly)
    try:
        answer = httpx.get(server.base_url + "/v1/engines", headers={"X-API-Key": KEY})
    finally:
        unregister_engine("test-remote-listed")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["default"] == "warp"
    warp = body["engines"]["warp"]
    assert warp["kind"] == "motion" and warp["live"] is True
    assert warp["sizes_px"] == [128, 1024] and warp["fps"] == [5.0, 60.0]
    remote = body["engines"]["test-remote-listed"]
    assert remote["kind"] == "remote" and remote["input"] == "audio"
    assert remote["frame_latency_ms"] == 150.0 and remote["audio_lookahead_ms"] == 320.0
    assert remote["sizes_px"] == [512, 512]


def test_engines_endpoint_tells_each_engines_health_and_the_default(server, monkeypatch, tmp_path):
    """Local engines are ok; a remote one is probed at the server it is configured with: a
    second headcast server answers, a closed port does not, no URL is not configured."""
    from headcast.render.remote import RemoteEndpoint
    from headcast.render.remote.realtime import OmniRTEngine

    monkeypatch.delenv("HEADCAST_ENGINE_URL", raising=False)
    monkeypatch.setenv("HEADCAST_ENGINE", "omnirt")
    closed = free_port()  # nothing listens there
    with running_server(server_config(tmp_path)) as second:
        for name, url in (
            ("test-remote-up", f"{second.ws_url}/v1/avatar/realtime"),
            ("test-remote-down", f"ws://127.0.0.1:{closed}/v1/avatar/realtime"),
        ):
            at_url: Any = partial(OmniRTEngine, RemoteEndpoint(url=url, timeout_s=1.0))
            at_url.capabilities = OmniRTEngine.capabilities
            register_engine(name, at_url)
        try:
            answer = httpx.get(
                server.base_url + "/v1/engines", headers={"X-API-Key": KEY}, timeout=30
            )
        finally:
            unregister_engine("test-remote-up")
            unregister_engine("test-remote-down")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    listed = body["engines"]
    assert body["default"] == "omnirt"
    assert [n for n, e in listed.items() if e["default"]] == ["omnirt"]
    assert listed["warp"]["health"] == "ok" and listed["enrolled"]["health"] == "ok"
    assert listed["test-remote-up"]["health"] == "ok"
    down = listed["test-remote-down"]["health"]
    assert down.startswith("unreachable: ") and f"127.0.0.1:{closed}" in down, down
    assert listed["omnirt"]["health"] == "not configured"
    assert listed["omnirt-http"]["health"] == "not configured"
    assert listed["omnirt"]["kind"] == "remote" and listed["omnirt"]["input"] == "audio"


class _Readiness(BaseHTTPRequestHandler):
    """A remote's readiness route answering ``status`` with ``body``; None: it has no such
    route. Counts the probes it gets."""

    status: int | None = 200
    body: ClassVar[dict[str, Any]] = {}
    probes: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.probes.append(self.path)
        status = self.status if self.path == "/readyz" else 404
        payload = json.dumps(self.body if status is not None else {}).encode()
        self.send_response(status or 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def _remote(status: int | None, body: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """A remote answering its readiness route so: its engine URL and the paths probed."""
    probes: list[str] = []
    handler = type("Handler", (_Readiness,), {"status": status, "body": body, "probes": probes})
    remote = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=remote.serve_forever, daemon=True).start()
    try:
        yield f"ws://127.0.0.1:{remote.server_address[1]}/v1/avatar/realtime", probes
    finally:
        remote.shutdown()
        remote.server_close()


def test_a_remote_is_ok_only_once_its_readiness_route_says_so(tmp_path):
    """headcast's own serve when it takes work; a 503 or OmniRT's ``{"ok": false}`` is not
    ready, with the route and answer named; nothing listening is unreachable; a server
    without a readiness route is judged by a connect."""
    from headcast.server.http.engine_health import ServerProbes

    probes = ServerProbes(cache_s=0.0)
    with running_server(server_config(tmp_path)) as ready:
        assert probes.health(f"{ready.ws_url}/v1/avatar/realtime") == "ok"
        assert probes.health(f"{ready.base_url}/v1/generate") == "ok"
    with _remote(503, {"ready": False}) as (url, asked):
        health = probes.health(url)
        assert health.startswith("not ready: ") and "/readyz answered HTTP 503" in health, health
        assert asked == ["/readyz"]
    with _remote(200, {"ok": False, "job_store_backend": "memory"}) as (url, _):
        assert probes.health(url).startswith("not ready: "), probes.health(url)
    with _remote(200, {"ok": True, "remote_worker_count": 0}) as (url, _):
        assert probes.health(url) == "ok"
    with _remote(None, {}) as (url, asked):
        assert probes.health(url) == "ok" and asked == ["/readyz"]
    closed = free_port()
    down = probes.health(f"http://127.0.0.1:{closed}/v1/generate")
    assert down.startswith("unreachable: ") and f"127.0.0.1:{closed}" in down, down


def test_the_readiness_route_sits_beside_the_engines_route():
    from headcast.server.http.engine_health import readiness_url

    assert readiness_url("ws://gpu:8000/v1/avatar/realtime") == "http://gpu:8000/readyz"
    assert readiness_url("wss://gpu/omnirt/v1/avatar/realtime") == "https://gpu/omnirt/readyz"
    assert readiness_url("https://gpu:9000/v1/generate/") == "https://gpu:9000/readyz"
    assert readiness_url("http://gpu:9000") == "http://gpu:9000/readyz"


def test_a_probe_answer_is_kept_so_the_remote_is_not_hammered():
    from headcast.server.http.engine_health import ServerProbes

    kept, fresh = ServerProbes(cache_s=600.0), ServerProbes(cache_s=0.0)
    with _remote(200, {"ready": True}) as (url, asked):
        assert kept.health(url) == "ok" and fresh.health(url) == "ok"
        assert kept.health(url) == "ok"  # the first answer, not a new request
        assert asked == ["/readyz", "/readyz"]
    assert kept.health(url) == "ok"
    assert fresh.health(url).startswith("unreachable: ")
