"""Jobs in one SQLite table in the data directory: the store of a single server process, which
holds a lock on the folder.

Every state change is conditional on the state the caller saw, so a job that was cancelled,
or taken over after its worker was presumed dead, is never written over by a late worker.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import IO

from headcast.server.jobs.data_dir_lock import lock_data_dir
from headcast.server.jobs.record import INTERRUPTED_MESSAGE, MAX_ATTEMPTS, JobRecord, JobState

_COLUMNS = (
    "id TEXT PRIMARY KEY",
    "owner TEXT NOT NULL",
    "state TEXT NOT NULL",
    "avatar_id TEXT NOT NULL",
    "format TEXT NOT NULL",
    "fps REAL NOT NULL",
    "size_px INTEGER NOT NULL",
    "has_audio INTEGER NOT NULL",
    "text TEXT",
    "voice TEXT",
    "created_at REAL NOT NULL",
    "updated_at REAL NOT NULL",
    "progress REAL NOT NULL DEFAULT 0",
    "attempts INTEGER NOT NULL DEFAULT 0",
    "worker TEXT NOT NULL DEFAULT ''",
    "error_code TEXT",
    "error_message TEXT",
    "engine TEXT NOT NULL DEFAULT 'warp'",
    "kind TEXT NOT NULL DEFAULT 'render'",
)
_NAMES = tuple(c.split()[0] for c in _COLUMNS)


class SqliteJobStore:
    """Jobs in ``<data_dir>/headcast.sqlite3``, for one server process per data directory.

    The process holds an exclusive lock on the folder's ``headcast.lock`` while it runs (the
    server takes it before anything else and passes it in as ``folder_lock``), so jobs marked
    running in the table at start belong to a process that is gone: ``recover`` requeues them.
    """

    def __init__(self, path: Path, folder_lock: IO[str] | None = None) -> None:
        self._owns_lock = folder_lock is None
        self._lock_file = lock_data_dir(path.parent) if folder_lock is None else folder_lock
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes
        self._db.execute(f"CREATE TABLE IF NOT EXISTS jobs ({', '.join(_COLUMNS)})")
        # A table made before jobs chose an engine gets the column, its jobs warp's.
        known = {row["name"] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for column in _COLUMNS:
            if column.split()[0] not in known:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column}")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_owner ON jobs (owner, created_at)")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_at)")
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)

    def _row(self, row: sqlite3.Row | None) -> JobRecord | None:
        return None if row is None else JobRecord.from_fields(dict(row))

    def submit(self, job: JobRecord, max_queued: int) -> bool:
        values = [getattr(job, name) for name in _NAMES]
        values[_NAMES.index("state")] = job.state.value
        values[_NAMES.index("kind")] = job.kind.value
        with self._work:
            if self._count_queued() >= max_queued:
                return False
            self._db.execute(
                f"INSERT INTO jobs ({', '.join(_NAMES)}) VALUES ({', '.join('?' * len(_NAMES))})",
                values,
            )
            self._work.notify()
        return True

    def get(self, job_id: str) -> JobRecord | None:
        with self._lock:
            return self._row(
                self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            )

    def list(self, owner: str, limit: int) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE owner = ? ORDER BY created_at DESC LIMIT ?",
                (owner, limit),
            ).fetchall()
        return [JobRecord.from_fields(dict(r)) for r in rows]

    def _count_queued(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]

    def queued_count(self) -> int:
        with self._lock:
            return self._count_queued()

    def claim(self, worker: str, timeout_s: float) -> JobRecord | None:
        deadline = time.monotonic() + timeout_s
        with self._work:
            while True:
                row = self._db.execute(
                    "UPDATE jobs SET state = 'running', worker = ?, attempts = attempts + 1, "
                    "progress = 0, updated_at = ? WHERE id = (SELECT id FROM jobs "
                    "WHERE state = 'queued' ORDER BY created_at LIMIT 1) RETURNING *",
                    (worker, time.time()),
                ).fetchone()
                if row is not None:
                    return self._row(row)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._work.wait(left)

    def report_progress(self, job_id: str, worker: str, progress: float) -> bool:
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET progress = ?, updated_at = ? "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (progress, time.time(), job_id, worker),
            )
            return cursor.rowcount == 1

    def finish(
        self,
        job_id: str,
        worker: str,
        state: JobState,
        error: tuple[str, str] | None = None,
        engine: str | None = None,
    ) -> bool:
        code, message = error or (None, None)
        with self._lock:
            cursor = self._db.execute(
                "UPDATE jobs SET state = ?, error_code = ?, error_message = ?, updated_at = ?, "
                "progress = CASE WHEN ? = 'succeeded' THEN 100 ELSE progress END, "
                "engine = COALESCE(?, engine) "
                "WHERE id = ? AND state = 'running' AND worker = ?",
                (state.value, code, message, time.time(), state.value, engine, job_id, worker),
            )
            return cursor.rowcount == 1

    def release(self, job_id: str, worker: str) -> None:
        with self._work:
            self._db.execute(
                "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), progress = 0, "
                "updated_at = ? WHERE id = ? AND state = 'running' AND worker = ?",
                (time.time(), job_id, worker),
            )
            self._work.notify()

    def cancel(self, job_id: str) -> JobRecord | None:
        with self._lock:
            row = self._db.execute(
                "UPDATE jobs SET state = 'cancelled', updated_at = ? "
                "WHERE id = ? AND state IN ('queued', 'running') RETURNING *",
                (time.time(), job_id),
            ).fetchone()
            if row is None:
                row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return self._row(row)

    def keep_alive(self, worker: str, lease_s: float) -> None:
        """Nothing to do: the folder lock says this process is alive."""

    def recover(self, worker: str) -> int:
        now = time.time()
        with self._work:
            failed = self._db.execute(
                "UPDATE jobs SET state = 'failed', error_code = 'interrupted', "
                "error_message = ?, updated_at = ? "
                "WHERE state = 'running' AND worker != ? AND attempts >= ?",
                (INTERRUPTED_MESSAGE, now, worker, MAX_ATTEMPTS),
            ).rowcount
            requeued = self._db.execute(
                "UPDATE jobs SET state = 'queued', progress = 0, updated_at = ? "
                "WHERE state = 'running' AND worker != ?",
                (now, worker),
            ).rowcount
            if requeued:
                self._work.notify_all()
        return failed + requeued

    def close(self, worker: str) -> None:
        with self._lock:
            self._db.close()
        if self._owns_lock:
            self._lock_file.close()
