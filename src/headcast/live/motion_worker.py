"""A clip's motion made in a worker process, beside whatever else the caller does meanwhile.

PocketSphinx holds the GIL for the whole of a decode (about 1 s for an alignment of 30 s of
speech, 2 s for recognition). Run in a thread, it stalls every other thread of the process for
that long: the analysis of a new photo, the renderer's setup, other requests' jobs. A worker
process runs it beside them instead. The worker is a fresh interpreter started on first use (a
plain subprocess: nothing of the caller's program is imported or run again there), kept for
later calls with its decoders; ``worker_process`` starts it and carries the messages. It runs
``clip_motion`` and hands the frames back in batches as they become final, with its log
records, which are replayed here.

Where no worker can be started, the motion is made in this process instead. A worker that
dies or stalls during a request fails that request (the input may be what broke it, so it is
not tried again here) and is replaced for the next one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from headcast.audio.clip import Audio
from headcast.errors import HeadcastError
from headcast.live.worker_process import MessageChannel, WorkerGone, WorkerProcess
from headcast.motion.build import MotionBatch, MotionOptions, clip_motion, collect_motion
from headcast.motion.face_motion import FaceMotion
from headcast.phones.track import PhoneTrack

log = logging.getLogger(__name__)

_LOGGER_NAME = "headcast"
# A decode runs at a few percent of real time; this allows for a machine a hundred times busier.
TIMEOUT_BASE_S = 60.0
TIMEOUT_PER_AUDIO_S = 2.0
QUEUE_POLL_S = 1.0  # how often a request not yet sent looks again
MAX_ATTEMPTS = 3  # workers tried for one request, where the earlier ones had been stopped
STOP_WAIT_S = 5.0  # for a worker whose channel is closed to end by itself
# glibc otherwise raises its mmap threshold to the size of each large block freed (up to
# 32 MB), after which the whole-clip pass's buffers are carved from the heap and stay there,
# resident, for as long as the worker lives (~15 MB for 10 minutes of speech). A fixed
# threshold sends every large block straight back to the system when it is freed (a value
# set in the caller's environment is kept).
MALLOC_MMAP_THRESHOLD_BYTES = 128 * 1024


@dataclass(frozen=True)
class _Outcome:
    """One reply: a batch of frames, or the end of them (with the error, if one was raised)."""

    batch: MotionBatch | None
    error: BaseException | None
    records: list[logging.LogRecord]
    done: bool


@dataclass
class _Ticket:
    """One request's standing: whether it is sent (and to which worker), or called off."""

    sent: threading.Event = field(default_factory=threading.Event)
    # Under the lock: called off, and the worker serving it (None before it is sent and once
    # its last reply is in, so that a late call-off never stops a worker serving another).
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False
    worker: _Worker | None = None


@dataclass
class _Request:
    """What a worker is asked: the speech is let go once a worker has it (a long clip's
    speech is the largest thing the caller would otherwise keep while the motion comes)."""

    audio: Audio | None
    options: MotionOptions
    phones: PhoneTrack | None
    transcript: str | None


class _Worker:
    """One worker process; one request at a time."""

    def __init__(self) -> None:
        self.worker = WorkerProcess.interpreter(
            serve, env={"MALLOC_MMAP_THRESHOLD_": str(MALLOC_MMAP_THRESHOLD_BYTES)}
        )
        self.process = self.worker.process
        self.lock = threading.Lock()
        self.called_off = False  # stopped by a request called off, not by a fault of its own

    def ask(self, request: _Request, ticket: _Ticket) -> Iterator[_Outcome]:
        """The replies to one request, up to and including the last."""
        with self.lock:
            with ticket.lock:
                if ticket.cancelled:
                    return
                ticket.worker = self  # from here on a call-off stops it, even mid-send
            try:
                try:
                    self.worker.send(
                        (request.audio, request.options, request.phones, request.transcript)
                    )
                    ticket.sent.set()
                    request.audio = None  # sent: no other worker, nor the caller, needs it now
                    while True:
                        outcome = self.worker.receive()
                        if not isinstance(outcome, _Outcome):
                            raise WorkerGone("it sent an unexpected reply", started=True)
                        yield outcome
                        if outcome.done:
                            return
                except WorkerGone:
                    self.close()
                    raise
            finally:
                with ticket.lock:
                    ticket.worker = None

    def running(self) -> bool:
        return self.worker.running()

    def kill(self) -> None:
        self.worker.kill()

    def close(self) -> None:
        self.worker.stop(wait_s=STOP_WAIT_S)


_worker: _Worker | None = None
_worker_lock = threading.Lock()


class PendingMotion:
    """A clip's motion being made; ``batches()`` hands it over as it comes."""

    def __init__(
        self,
        audio: Audio,
        options: MotionOptions,
        phones: PhoneTrack | None,
        transcript: str | None,
    ) -> None:
        self._request = _Request(audio, options, phones, transcript)
        self._timeout_s = TIMEOUT_BASE_S + TIMEOUT_PER_AUDIO_S * audio.duration_s
        self._replies: queue.SimpleQueue[_Outcome | BaseException] = queue.SimpleQueue()
        self._ticket = _Ticket()
        self._taken = False
        # A daemon thread waits on the replies, so that the caller's thread stays free and an
        # interpreter that exits does not wait for a decode it no longer needs.
        threading.Thread(target=self._ask, name="headcast-motion", daemon=True).start()

    def _ask(self) -> None:
        try:
            for outcome in _ask_worker(self._request, self._ticket):
                self._replies.put(outcome)
        except BaseException as exc:
            self._replies.put(exc)
        else:
            if self._ticket.cancelled:
                self._replies.put(HeadcastError("could not make the motion: called off"))

    def batches(self) -> Iterator[MotionBatch]:
        """The frames a batch at a time, in order, the phones with the last; raises what
        making them raised (InputError for bad audio). Can be taken once."""
        if self._taken:
            raise RuntimeError("the motion was taken already")
        self._taken = True
        try:
            yield from self._replies_as_batches()
        except BaseException:
            self.cancel()  # abandoned or failed: its worker must not go on decoding for no one
            raise

    def _replies_as_batches(self) -> Iterator[MotionBatch]:
        # Once the worker has the request, only the time spent waiting on it counts, not the
        # caller's work between batches; until then, the wait for a worker to start and for
        # requests ahead to be done with it has a budget of its own.
        left_s = {False: self._timeout_s, True: self._timeout_s}
        first = True
        while True:
            sent = self._ticket.sent.is_set()
            started = time.monotonic()
            try:
                reply = self._replies.get(timeout=max(min(left_s[sent], QUEUE_POLL_S), 0.0))
            except queue.Empty:
                if left_s[sent] > 0:
                    continue
                raise HeadcastError(
                    f"could not make the motion: no answer from the motion worker in "
                    f"{self._timeout_s:.0f} s"
                ) from None
            finally:
                left_s[sent] -= time.monotonic() - started
            if isinstance(reply, WorkerGone):
                if reply.started or not first:
                    raise HeadcastError(
                        f"could not make the motion: the motion worker stopped: {reply}"
                    ) from None
                log.debug("no motion worker (%s): making the motion in this process", reply)
                audio = self._request.audio  # never sent, so still here
                if audio is None:
                    raise HeadcastError("could not make the motion: the speech was let go")
                request = self._request
                yield from clip_motion(
                    audio, request.options, phones=request.phones, transcript=request.transcript
                )
                return
            if isinstance(reply, BaseException):
                raise reply
            first = False
            _replay(reply.records)
            if reply.batch is not None:
                yield reply.batch
            if reply.error is not None:
                raise reply.error
            if reply.done:
                return

    def result(self) -> tuple[list[FaceMotion], PhoneTrack]:
        """Every frame and the phones, or the error making them raised."""
        return collect_motion(self.batches())

    def cancel(self) -> None:
        """Call the request off: not sent, it never will be; under way, its worker is stopped
        (it cannot be interrupted otherwise), and the next request starts a fresh one."""
        with self._ticket.lock:
            self._ticket.cancelled = True
            if self._ticket.worker is not None:
                self._ticket.worker.called_off = True
                self._ticket.worker.kill()


def worker_running() -> bool:
    """Whether a worker is up already, so that a request to it costs no start-up."""
    with _worker_lock:
        return _worker is not None and _worker.running()


def start_worker() -> None:
    """Start the worker now if none is up, so that its start-up (about 0.4 s) overlaps the
    caller's own; a worker that cannot start is left for the first request to report."""
    with contextlib.suppress(WorkerGone):
        _current_worker()


def motion_in_worker(
    audio: Audio,
    options: MotionOptions,
    *,
    phones: PhoneTrack | None = None,
    transcript: str | None = None,
) -> PendingMotion:
    """Start making the motion of ``audio`` (16 kHz) as ``clip_motion`` does, in the worker."""
    return PendingMotion(audio, options, phones, transcript)


def _ask_worker(request: _Request, ticket: _Ticket) -> Iterator[_Outcome]:
    global _worker
    for attempt in range(MAX_ATTEMPTS):
        worker, fresh = _current_worker()
        try:
            yield from worker.ask(request, ticket)
            return
        except WorkerGone as exc:
            with _worker_lock:
                if _worker is worker:
                    _worker = None
            # A worker that had been stopped before it could take the request (for another
            # request called off, or after serving earlier ones) is replaced, not given up on.
            gone_by_itself = fresh and not worker.called_off
            if exc.started or ticket.cancelled or gone_by_itself or attempt == MAX_ATTEMPTS - 1:
                raise


def _current_worker() -> tuple[_Worker, bool]:
    """The running worker, started if need be, and whether it was just started."""
    global _worker
    with _worker_lock:
        if _worker is not None and _worker.running():
            return _worker, False
        if _worker is not None:
            _worker.close()
        _worker = _Worker()
        return _worker, True


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Reduced to its text here: what a record refers to need not survive pickling.
        try:
            message = self.format(record)
        except Exception:
            self.handleError(record)
            return
        text = logging.LogRecord(
            record.name, record.levelno, record.pathname, record.lineno,
            message, None, None, record.funcName,
        )  # fmt: skip
        text.created, text.msecs = record.created, record.msecs
        self.records.append(text)


def _picklable(outcome: _Outcome) -> bytes:
    """The outcome as the caller will get it, with an error it could not rebuild made plain."""
    try:
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data
    except Exception:
        error = outcome.error
        plain = HeadcastError(f"could not make the motion: {type(error).__name__}: {error}")
        return pickle.dumps(_Outcome(None, plain, outcome.records, done=True))


def serve(channel: MessageChannel) -> None:
    """The worker's loop: requests and replies on ``channel``, until the caller closes it.

    A request gets a reply per batch of frames as each becomes final, then a last one.
    """
    logger = logging.getLogger(_LOGGER_NAME)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    collect = _Collect()
    logger.addHandler(collect)
    # What the library loads on first use, loaded before the first request comes (the CLI
    # starts the worker while it loads the rest): the mouth's smoothing filter.
    import scipy.ndimage  # noqa: F401

    def reply(batch: MotionBatch | None, error: BaseException | None, done: bool) -> None:
        records, collect.records = collect.records, []  # those since the last reply
        try:
            channel.send_pickled(_picklable(_Outcome(batch, error, records, done)))
        except OSError:
            os._exit(0)  # the caller has gone

    while True:
        try:
            audio, options, phones, transcript = channel.receive()
        except (EOFError, OSError):
            return
        try:
            for batch in clip_motion(audio, options, phones=phones, transcript=transcript):
                reply(batch, None, done=False)
        except Exception as exc:  # handed back whole, to be raised in the caller
            reply(None, exc, done=True)
        else:
            reply(None, None, done=True)


def _replay(records: list[logging.LogRecord]) -> None:
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)
