"""Phones found in a worker process, beside whatever else the caller does meanwhile.

PocketSphinx holds the GIL for the whole of a decode (about 1 s for an alignment of 30 s of
speech, 2 s for recognition). Run in a thread, it stalls every other thread of the process for
that long: the analysis of a new photo, the renderer's setup, other requests' jobs. A worker
process runs it beside them instead. The worker is a fresh interpreter started on first use (a
plain subprocess: nothing of the caller's program is imported or run again there), kept for
later calls with its decoders, and it hands back its log records, which are replayed here.
Where no worker can run, or one dies, the phones are found in this process as before.
"""

from __future__ import annotations

import logging
import pickle
import struct
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import headcast
from headcast.audio.clip import Audio
from headcast.phones import phones_from_audio
from headcast.phones.track import PhoneTrack

log = logging.getLogger(__name__)

_LOGGER_NAME = "headcast"
_LENGTH = struct.Struct("<Q")
_PACKAGE_ROOT = str(Path(headcast.__file__).resolve().parent.parent)
_SERVE = (
    "import sys; sys.path.insert(0, sys.argv[1]); from headcast.phones.worker import serve; serve()"
)


class WorkerGone(Exception):
    """The worker process exited or could not be started."""


@dataclass(frozen=True)
class _Outcome:
    track: PhoneTrack | None
    error: BaseException | None
    records: list[logging.LogRecord]


class _Worker:
    """One worker process; one request at a time."""

    def __init__(self) -> None:
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SERVE, _PACKAGE_ROOT],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        except OSError as exc:
            raise WorkerGone(f"cannot start: {exc}") from None
        self.lock = threading.Lock()

    def ask(self, audio: Audio, transcript: str | None, fast: bool) -> _Outcome:
        with self.lock:
            try:
                _send(self.process.stdin, (audio, transcript, fast))
                outcome = _receive(self.process.stdout)
            except (OSError, EOFError, pickle.UnpicklingError) as exc:
                self.close()
                raise WorkerGone(str(exc) or type(exc).__name__) from None
        if not isinstance(outcome, _Outcome):
            raise WorkerGone("unexpected reply")
        return outcome

    def close(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


_worker: _Worker | None = None
_worker_lock = threading.Lock()
# Waits on the worker's reply, so that the caller's own thread stays free.
_waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="headcast-phones")


class PendingPhones:
    """Phones being found; ``result()`` waits for them."""

    def __init__(self, audio: Audio, transcript: str | None, fast: bool) -> None:
        self._audio = audio
        self._transcript = transcript
        self._fast = fast
        self._future: Future[_Outcome] = _waiter.submit(_ask_worker, audio, transcript, fast)

    def result(self) -> PhoneTrack:
        """The PhoneTrack, or the error finding it raised (InputError for bad audio)."""
        try:
            outcome = self._future.result()
        except WorkerGone as exc:
            log.debug("no phones worker (%s): finding phones in this process", exc)
            return phones_from_audio(self._audio, self._transcript, fast=self._fast)
        _replay(outcome.records)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.track is not None
        return outcome.track

    def cancel(self) -> None:
        """Drop the request if the worker has not started on it yet."""
        self._future.cancel()


def worker_running() -> bool:
    """Whether a worker is up already, so that a request to it costs no start-up."""
    with _worker_lock:
        return _worker is not None and _worker.process.poll() is None


def find_phones_in_worker(
    audio: Audio, transcript: str | None, *, fast: bool = False
) -> PendingPhones:
    """Start finding the phones of ``audio`` as ``phones_from_audio`` does, in the worker."""
    return PendingPhones(audio, transcript, fast)


def _ask_worker(audio: Audio, transcript: str | None, fast: bool) -> _Outcome:
    global _worker
    with _worker_lock:
        if _worker is None or _worker.process.poll() is not None:
            _worker = _Worker()
        worker = _worker
    try:
        return worker.ask(audio, transcript, fast)
    except WorkerGone:
        with _worker_lock:
            if _worker is worker:
                _worker = None
        raise


def _send(pipe: IO[bytes] | None, message: Any) -> None:
    if pipe is None:
        raise OSError("no pipe")
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    pipe.write(_LENGTH.pack(len(data)) + data)
    pipe.flush()


def _receive(pipe: IO[bytes] | None) -> Any:
    if pipe is None:
        raise OSError("no pipe")
    header = pipe.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError("the worker exited")
    (size,) = _LENGTH.unpack(header)
    data = pipe.read(size)
    if len(data) < size:
        raise EOFError("the worker exited")
    return pickle.loads(data)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Formatted here: the arguments of a record need not survive pickling.
        record.msg, record.args = record.getMessage(), None
        record.exc_info = record.exc_text = None
        self.records.append(record)


def serve() -> None:
    """The worker's loop: requests on stdin, outcomes on stdout, until stdin closes."""
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing printed by accident may corrupt the replies
    logger = logging.getLogger(_LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    while True:
        try:
            audio, transcript, fast = _receive(requests)
        except EOFError:
            return
        collect = _Collect()
        logger.addHandler(collect)
        try:
            track = phones_from_audio(audio, transcript, fast=fast)
            outcome = _Outcome(track, None, collect.records)
        except Exception as exc:  # handed back whole, to be raised in the caller
            outcome = _Outcome(None, exc, collect.records)
        finally:
            logger.removeHandler(collect)
        _send(replies, outcome)


def _replay(records: list[logging.LogRecord]) -> None:
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
