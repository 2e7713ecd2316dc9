"""The worker-process runtime under the motion worker and the session processes: messages
cross whole in both directions, and a worker that goes is reported with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from headcast.live.pool import session_processes
from headcast.live.worker_process import WorkerGone, WorkerProcess
from tests.support.echo_worker import echo, exit_at_once

ROOT = Path(__file__).resolve().parent.parent


def test_messages_cross_whole_and_a_killed_worker_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # where the fresh interpreter finds ``tests.support``
    worker = WorkerProcess.interpreter(echo)
    try:
        speech = np.random.default_rng(0).random(16_000 * 30, dtype=np.float32)  # out of band
        messages = [("push", np.arange(640, dtype=np.int16)), {"speech": speech}, None]
        for message in messages:
            worker.send(message)
        back = [worker.receive() for _ in messages]
        assert np.array_equal(back[0][1], messages[0][1]) and back[0][0] == "push"
        assert back[1]["speech"].dtype == np.float32
        assert np.array_equal(back[1]["speech"], speech)
        assert back[2] is None
        assert worker.running()
        worker.kill()
        with pytest.raises(WorkerGone, match="it was killed by SIGKILL") as gone:
            worker.receive()
        assert gone.value.started
        assert not worker.running()
        with pytest.raises(WorkerGone) as refused:
            worker.send("anyone there?")
        assert not refused.value.started  # it never had the message
    finally:
        worker.stop(wait_s=5)


def test_a_forked_worker_ends_when_its_channel_closes() -> None:
    worker = WorkerProcess.forked(session_processes(), echo, "echo")
    worker.send(b"x" * 100_000)
    assert worker.receive() == b"x" * 100_000
    worker.stop(wait_s=5)  # it reads to the end of its channel and returns
    assert worker.process.exitcode == 0  # type: ignore[union-attr]
    with pytest.raises(WorkerGone):
        worker.send("after the end")


def test_a_worker_that_exits_says_with_what_status() -> None:
    worker = WorkerProcess.forked(session_processes(), exit_at_once, "x")
    try:
        with pytest.raises(WorkerGone, match="it exited with status 3"):
            worker.receive()
    finally:
        worker.stop(wait_s=5)
