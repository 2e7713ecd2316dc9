"""The service skeleton: probes, JSON errors, API keys and rate limits on a real server."""

from __future__ import annotations

import httpx
import pytest

from headcast.errors import InputError
from headcast.server import ServerConfig
from tests.support.servers import running_server, server_config


def test_refuses_to_start_without_keys_unless_told(tmp_path):
    with pytest.raises(InputError, match="API_KEYS"):
        ServerConfig.from_env({}, data_dir=tmp_path)
    config = ServerConfig.from_env({"HEADCAST_ALLOW_ANONYMOUS": "yes"}, data_dir=tmp_path)
    assert config.allow_anonymous


def test_environment_is_read_and_flags_win(tmp_path):
    env = {"HEADCAST_API_KEYS": "a, b", "HEADCAST_PORT": "9001", "HEADCAST_WORKERS": "3"}
    config = ServerConfig.from_env(env, port=9002, data_dir=tmp_path)
    assert config.api_keys == ("a", "b")
    assert config.port == 9002
    assert config.workers == 3
    with pytest.raises(InputError, match="HEADCAST_PORT"):
        ServerConfig.from_env({"HEADCAST_PORT": "eighty", "HEADCAST_API_KEYS": "k"})


def test_probes_and_json_errors(tmp_path):
    config = server_config(tmp_path, api_keys=("k1",))
    with running_server(config) as server:
        healthz = httpx.get(server.base_url + "/healthz")
        assert healthz.json() == {"status": "ok"}
        assert httpx.get(server.base_url + "/readyz").json() == {"ready": True}
        missing = httpx.get(server.base_url + "/no/such/route")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        unauthorized = httpx.get(server.base_url + "/v1/jobs")
        assert unauthorized.status_code == 401
        # Answers, errors included, are never content-sniffed by a browser.
        for response in (healthz, missing, unauthorized):
            assert response.headers["x-content-type-options"] == "nosniff"


def test_metrics_are_exposed(tmp_path):
    config = server_config(tmp_path)
    with running_server(config) as server:
        httpx.get(server.base_url + "/healthz")
        text = httpx.get(server.base_url + "/metrics").text
        assert 'headcast_http_requests_total{method="GET",route="/healthz",status="200"}' in text
        assert "headcast_active_sessions 0.0" in text
        assert "headcast_queue_depth" in text
