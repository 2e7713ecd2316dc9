"""A worker process: started, spoken to in framed messages, and noticed when it has gone.

Two kinds of worker run on it. The motion worker is a fresh interpreter (nothing of the
caller's program is imported or run again there); a session process is a fork of a fork server
that has the renderer imported, ready in milliseconds. Either way parent and worker share one
socket and exchange pickled messages on it, with arrays out of band: the speech is never copied
into a pickle nor a pickle into a frame, and a reply is read straight into its own buffers.

A worker that exits, is killed or sends what cannot be read makes the parent's next receive or
send raise ``WorkerGone`` with the reason; its owner then starts another.
"""

from __future__ import annotations

import contextlib
import multiprocessing.context
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import headcast

_LENGTH = struct.Struct("<Q")
MAX_MESSAGE_BYTES = 1 << 30  # a longer header is not one of ours: the channel is out of step
MAX_BUFFERS = 64  # out-of-band buffers of one message (an Audio has one)
# Smaller arrays (a frame's audio) go inside the pickle: a buffer of their own costs more in
# reads and allocations than the copy it saves.
IN_BAND_MAX_BYTES = 64 * 1024
EXIT_STATUS_WAIT_S = 2.0  # for the reason a worker whose channel closed is gone
_PACKAGE_ROOT = str(Path(headcast.__file__).resolve().parent.parent)
# Before anything is imported: Ctrl-C, which reaches the whole process group, is left to the
# parent (the worker ends when its channel closes), and whatever is printed goes to stderr, so
# that the parent's stdout (a video being written there, say) gets nothing from the worker.
_SERVE = (
    "import os, signal, socket, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "os.dup2(2, 1); sys.path.insert(0, sys.argv[1]); "
    "from headcast.live.worker_process import serve_entry; "
    "serve_entry(sys.argv[2], socket.socket(fileno=int(sys.argv[3])))"
)

Serve = Callable[["MessageChannel"], None]


class WorkerGone(Exception):
    """The worker could not be started, or has stopped; the message says why."""

    def __init__(self, reason: str, *, started: bool) -> None:
        super().__init__(reason)
        # False: the worker never had the message (it could not start, or had stopped before
        # the message reached it), so the work may be done elsewhere.
        self.started = started


class MessageChannel:
    """Pickled messages over a socket, each written whole (any thread may send)."""

    def __init__(self, connection: socket.socket) -> None:
        self._socket = connection
        self._reader = connection.makefile("rb")
        self._writer = connection.makefile("wb")
        self._send_lock = threading.Lock()

    def send(self, message: object) -> None:
        """Raises OSError (or ValueError once closed here) when the other end is gone."""
        buffers: list[memoryview] = []

        def in_band(buffer: pickle.PickleBuffer) -> bool:
            raw = buffer.raw()
            if raw.nbytes < IN_BAND_MAX_BYTES:
                return True
            buffers.append(raw)
            return False

        data = pickle.dumps(message, protocol=5, buffer_callback=in_band)
        self.send_pickled(data, buffers)

    def send_pickled(self, data: bytes, buffers: Sequence[memoryview] = ()) -> None:
        """One message: the lengths of its pickle and of its out-of-band buffers, then their
        bytes."""
        sizes = [len(data), *(buffer.nbytes for buffer in buffers)]
        header = _LENGTH.pack(len(buffers)) + b"".join(_LENGTH.pack(size) for size in sizes)
        with self._send_lock:
            self._writer.write(header)
            self._writer.write(data)
            for buffer in buffers:
                self._writer.write(buffer)
            self._writer.flush()

    def receive(self) -> Any:
        """The next message; EOFError once the other end has closed, ValueError for a
        message that is not one of ours. One thread receives."""
        (count,) = _LENGTH.unpack(self._read_exactly(_LENGTH.size))
        if count > MAX_BUFFERS:
            raise ValueError("the channel is out of step")
        sizes = struct.unpack(f"<{count + 1}Q", self._read_exactly(_LENGTH.size * (count + 1)))
        if any(size > MAX_MESSAGE_BYTES for size in sizes):
            raise ValueError("the channel is out of step")
        data = self._read_exactly(sizes[0])
        return pickle.loads(data, buffers=[self._read_exactly(size) for size in sizes[1:]])

    def _read_exactly(self, size: int) -> bytearray:
        """``size`` bytes read straight into their own buffer."""
        out = bytearray(size)
        view = memoryview(out)
        filled = 0
        while filled < size:
            n = self._reader.readinto(view[filled:])
            if not n:
                raise EOFError("the channel closed")
            filled += n
        return out

    def close_sending(self) -> None:
        """Tell the other end that nothing more comes: its receive ends with EOFError."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Close both ways; a receive under way here ends with EOFError."""
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)
        for stream in (self._writer, self._reader):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        self._socket.close()


class WorkerProcess:
    """A worker and the channel to it. ``process`` is the ``subprocess.Popen`` of a fresh
    interpreter or the ``multiprocessing.Process`` of a fork."""

    def __init__(
        self, process: subprocess.Popen[bytes] | multiprocessing.process.BaseProcess,
        channel: MessageChannel,
    ) -> None:  # fmt: skip
        self.process = process
        self.channel = channel
        self._exit_lock = threading.Lock()  # one question to the process about its end at a time

    @classmethod
    def interpreter(cls, serve: Serve, env: Mapping[str, str] | None = None) -> WorkerProcess:
        """A fresh interpreter running ``serve`` (a module-level function) on its channel;
        ``env`` is added to this process's environment. WorkerGone if it cannot start."""
        mine, theirs = socket.socketpair()
        entry = f"{serve.__module__}:{serve.__qualname__}"
        try:
            process = subprocess.Popen(
                [sys.executable, "-c", _SERVE, _PACKAGE_ROOT, entry, str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                env={**(env or {}), **os.environ},
            )
        except OSError as exc:
            mine.close()
            raise WorkerGone(f"it could not be started: {exc}", started=False) from None
        finally:
            theirs.close()
        return cls(process, MessageChannel(mine))

    @classmethod
    def forked(
        cls, context: multiprocessing.context.ForkServerContext, serve: Serve, name: str
    ) -> WorkerProcess:
        """A fork of ``context``'s fork server running ``serve`` on its channel."""
        mine, theirs = socket.socketpair()
        process = context.Process(
            target=_serve_forked, args=(serve, theirs), name=name, daemon=True
        )
        try:
            process.start()
        except OSError as exc:
            mine.close()
            raise WorkerGone(f"it could not be started: {exc}", started=False) from None
        finally:
            theirs.close()
        return cls(process, MessageChannel(mine))

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def running(self) -> bool:
        with self._exit_lock:
            if isinstance(self.process, subprocess.Popen):
                return self.process.poll() is None
            return self.process.is_alive()

    def send(self, message: object) -> None:
        try:
            self.channel.send(message)
        except (OSError, ValueError):  # ValueError: closed here
            raise WorkerGone(self._end(), started=False) from None

    def receive(self) -> Any:
        try:
            return self.channel.receive()
        except (EOFError, OSError):
            raise WorkerGone(self._end(), started=True) from None
        except Exception as exc:  # nothing more from it can be trusted
            self.kill()
            reason = f"it sent a message that cannot be read ({type(exc).__name__}: {exc})"
            raise WorkerGone(reason, started=True) from None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()

    def stop(self, wait_s: float) -> None:
        """Close its channel (it ends once it has read what was sent), waiting up to
        ``wait_s`` for it to go before killing it."""
        self.channel.close_sending()
        if self._wait(wait_s) is None:
            self.kill()
            self._wait(None)
        self.channel.close()

    def _wait(self, timeout_s: float | None) -> int | None:
        """Its exit status, waiting up to ``timeout_s``; None while it runs."""
        with self._exit_lock:
            if isinstance(self.process, subprocess.Popen):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout_s)
                return self.process.returncode
            self.process.join(timeout_s)
            return self.process.exitcode

    def _end(self) -> str:
        """Why its channel closed, in words."""
        status = self._wait(EXIT_STATUS_WAIT_S)
        if status is None:
            return "it closed its channel"
        if status < 0:
            with contextlib.suppress(ValueError):
                return f"it was killed by {signal.Signals(-status).name}"
        return f"it exited with status {status}"


def serve_entry(entry: str, connection: socket.socket) -> None:
    """A fresh interpreter's worker: ``entry`` ("module:function") serves the channel."""
    import importlib

    module, function = entry.split(":")
    getattr(importlib.import_module(module), function)(MessageChannel(connection))


def _serve_forked(serve: Serve, connection: socket.socket) -> None:
    serve(MessageChannel(connection))
