"""Where jobs live and how workers take them: one interface, two stores.

``SqliteJobStore`` (the default, ``sqlite_store``) keeps records and the queue in one SQLite
table in the data directory; it serves one process, which holds a lock on the folder.
``RedisJobStore`` (``redis_store``) lets several replicas share records and a reliable queue.
Both implement ``JobStore``; neither imports this module, and ``open_job_store`` picks one.
"""

from __future__ import annotations

from typing import IO, Protocol

from headcast.server.config import ServerConfig
from headcast.server.jobs.record import JobRecord, JobState
from headcast.server.jobs.redis_store import RedisJobStore
from headcast.server.jobs.sqlite_store import SqliteJobStore


class JobStore(Protocol):
    def submit(self, job: JobRecord, max_queued: int) -> bool:
        """Store and enqueue ``job``; False (nothing stored) when ``max_queued`` are waiting."""

    def get(self, job_id: str) -> JobRecord | None: ...

    def list(self, owner: str, limit: int) -> list[JobRecord]:
        """The owner's newest jobs first."""

    def queued_count(self) -> int: ...

    def claim(self, worker: str, timeout_s: float) -> JobRecord | None:
        """The oldest queued job, now running for ``worker``; None after ``timeout_s``."""

    def report_progress(self, job_id: str, worker: str, progress: float) -> bool:
        """Record progress; False when the job is no longer running for ``worker``."""

    def finish(
        self,
        job_id: str,
        worker: str,
        state: JobState,
        error: tuple[str, str] | None = None,
        engine: str | None = None,
    ) -> bool:
        """End a running job, recording ``engine`` as the one that made it when given; False
        (nothing changed) if it is no longer ``worker``'s."""

    def release(self, job_id: str, worker: str) -> None:
        """Give a running job back to the queue (the worker is stopping)."""

    def cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued or running job; the record afterwards (None if unknown)."""

    def keep_alive(self, worker: str, lease_s: float) -> None:
        """Tell the other replicas that ``worker`` is alive for another ``lease_s``."""

    def recover(self, worker: str) -> int:
        """Requeue (or fail, past MAX_ATTEMPTS) jobs of dead workers; how many were found."""

    def close(self, worker: str) -> None: ...


def open_job_store(config: ServerConfig, folder_lock: IO[str] | None = None) -> JobStore:
    """The configured store; ``folder_lock``, the data directory's lock already held."""
    if config.redis_url:
        return RedisJobStore(config.redis_url)
    return SqliteJobStore(config.database_path, folder_lock)
