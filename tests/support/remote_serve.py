"""The servers of the remote-engine tests: ``headcast serve`` in a process of its own as the
remote "omnirt" engine (its ``/v1/avatar/realtime``), and a second one, the front, that renders
on it. Started once for every test that leaves them running (tests/conftest.py's
``omnirt_remote`` and ``omnirt_front``); a test that kills or stalls a server starts its own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.serve_process import ServeProcess

REALTIME_PATH = "/v1/avatar/realtime"


def realtime_url(port: int) -> str:
    """The OmniRT realtime endpoint of a headcast serving on loopback ``port``."""
    return f"ws://127.0.0.1:{port}{REALTIME_PATH}"


@contextmanager
def serving(data_dir: Path, *, engine_url: str | None = None) -> Iterator[ServeProcess]:
    """A ready ``headcast serve`` keeping its data in ``data_dir``, rendering the "omnirt"
    engine on ``engine_url`` when given; stopped when the block ends."""
    env = {} if engine_url is None else {"HEADCAST_ENGINE_URL": engine_url}
    server = ServeProcess(data_dir, env=env)
    try:
        yield server.wait_ready()
    finally:
        server.stop()


def remote_chunks_answered(server: ServeProcess) -> int:
    """How many chunks ``server``'s "omnirt" engine has had answered by its remote, from
    ``/metrics``: evidence that what a session showed was rendered there."""
    from prometheus_client.parser import text_string_to_metric_families

    with server.client() as client:
        text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "headcast_remote_chunk_seconds_count" and sample.labels == {
                "engine": "omnirt"
            }:
                return int(sample.value)
    return 0
