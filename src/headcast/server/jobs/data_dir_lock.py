"""One server per data directory (without Redis): an exclusive lock on ``headcast.lock`` in
it, taken before anything reads, cleans or writes the directory and held for the server's life.

With ``--redis-url`` replicas may share a directory and coordinate through Redis instead.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from headcast.errors import InputError

LOCK_FILE_NAME = "headcast.lock"


def lock_data_dir(data_dir: Path) -> IO[str]:
    """The held lock of ``data_dir`` (made if missing); InputError when another server holds it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    return lock_file(data_dir / LOCK_FILE_NAME)


def lock_file(path: Path) -> IO[str]:
    """Hold ``path`` locked until the returned handle is closed; another holder means misuse."""
    handle = open(path, "a")  # noqa: SIM115 - held open until the server stops
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise InputError(
            f"{path.parent}: another headcast server uses this data directory; give each "
            "server its own --data-dir, or share jobs between servers with --redis-url"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
