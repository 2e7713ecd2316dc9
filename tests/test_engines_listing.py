"""The engines listed by ``headcast engines`` and ``GET /v1/engines``, with what each can do."""

from __future__ import annotations

import json
import socket
from functools import partial
from typing import Any

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


def test_a_probe_answer_is_kept_so_the_remote_is_not_hammered():
    from headcast.server.http.engine_health import ServerProbes

    listener = socket.create_server(("127.0.0.1", 0))
    url = f"ws://127.0.0.1:{listener.getsockname()[1]}/v1/avatar/realtime"
    kept, fresh = ServerProbes(cache_s=600.0), ServerProbes(cache_s=0.0)
    assert kept.health(url) == "ok" and fresh.health(url) == "ok"
    listener.close()
    assert kept.health(url) == "ok"  # the first answer, not a new connection
    assert fresh.health(url).startswith("unreachable: ")
