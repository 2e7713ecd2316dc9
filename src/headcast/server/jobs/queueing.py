"""Putting a job in the queue: the limits on jobs waiting, overall and per key.

A refusal is 429 with Retry-After, before anything of the job is stored.
"""

from __future__ import annotations

import asyncio

from headcast.server.config import ServerConfig
from headcast.server.http.errors import ApiError
from headcast.server.http.work_slots import RETRY_AFTER_S
from headcast.server.jobs.record import JobRecord, JobState
from headcast.server.jobs.store import JobStore


def queue_full(waiting: str) -> ApiError:
    return ApiError(
        429,
        "queue_full",
        f"{waiting}; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


def queued_for(store: JobStore, owner: str, config: ServerConfig) -> int:
    """The owner's jobs waiting now. Its waiting jobs are its newest (the oldest queued job
    runs first), so its newest few records hold them all."""
    newest = store.list(owner, config.max_queued_jobs + config.workers)
    return sum(job.state == JobState.QUEUED for job in newest)


async def check_room(store: JobStore, owner: str, config: ServerConfig) -> None:
    """429 when the queue, or the owner's share of it, is full."""
    if await asyncio.to_thread(store.queued_count) >= config.max_queued_jobs:
        raise queue_full(f"{config.max_queued_jobs} jobs are already waiting")
    if await asyncio.to_thread(queued_for, store, owner, config) >= config.queued_jobs_per_key:
        raise queue_full(f"this key already has {config.queued_jobs_per_key} jobs waiting")


async def submit(store: JobStore, job: JobRecord, config: ServerConfig) -> None:
    """Store and enqueue ``job``; 429 (nothing stored) when the queue filled meanwhile."""
    if not await asyncio.to_thread(store.submit, job, config.max_queued_jobs):
        raise queue_full(f"{config.max_queued_jobs} jobs are already waiting")
