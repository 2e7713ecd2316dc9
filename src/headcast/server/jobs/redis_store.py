"""Jobs shared by replicas through Redis: records as hashes, a reliable queue as lists.

Layout (prefix ``headcast:``): ``job:<id>`` hash (the record), ``owner:<owner>`` sorted set
of job ids by creation time, ``queue`` list (new jobs pushed left, taken from the right),
``processing:<worker>`` list (the jobs a worker has taken), ``alive:<worker>`` key with a TTL
(the worker's lease), ``workers`` set (every worker that may hold a processing list).

A worker takes a job with BLMOVE from the queue into its own processing list, so a job is
always in a list even if the worker dies the next instant. Any replica that finds a worker's
lease expired moves that worker's jobs back to the queue in one Lua script (run at most once
per dead worker, and atomically, so no job is requeued twice). Every state change is a Lua
script that checks the state and the worker first, so a worker that lost its lease (a long
pause) learns at its next progress report that the job is no longer its own, and stops.
Uploaded audio and finished videos are files on the data volume that all replicas mount.
"""

from __future__ import annotations

import time
from typing import cast
from urllib.parse import urlsplit

import redis

from headcast.errors import HeadcastError
from headcast.server.jobs.record import INTERRUPTED_MESSAGE, MAX_ATTEMPTS, JobRecord, JobState

PREFIX = "headcast:"
QUEUE = PREFIX + "queue"
WORKERS = PREFIX + "workers"
MAX_BLOCK_S = 5.0  # longest single BLMOVE wait, so that stopping is never slow

_SUBMIT = """
if redis.call('LLEN', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], unpack(ARGV, 4))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('LPUSH', KEYS[1], ARGV[2])
return 1
"""
# KEYS: job, processing list. ARGV: id, worker, now.
_START = """
if redis.call('HGET', KEYS[1], 'state') ~= 'queued' then
  redis.call('LREM', KEYS[2], 1, ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'running', 'worker', ARGV[2], 'updated_at', ARGV[3],
           'progress', '0')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 1
"""
# KEYS: job. ARGV: worker, progress, now.
_PROGRESS = """
local s = redis.call('HMGET', KEYS[1], 'state', 'worker')
if s[1] ~= 'running' or s[2] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'progress', ARGV[2], 'updated_at', ARGV[3])
return 1
"""
# KEYS: job, processing list. ARGV: id, worker, state, now, error code, error message, engine.
_FINISH = """
local s = redis.call('HMGET', KEYS[1], 'state', 'worker')
local done = 0
if s[1] == 'running' and s[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'updated_at', ARGV[4])
  if ARGV[5] ~= '' then
    redis.call('HSET', KEYS[1], 'error_code', ARGV[5], 'error_message', ARGV[6])
  end
  if ARGV[3] == 'succeeded' then redis.call('HSET', KEYS[1], 'progress', '100') end
  if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'engine', ARGV[7]) end
  done = 1
end
redis.call('LREM', KEYS[2], 1, ARGV[1])
return done
"""
# KEYS: job, processing list, queue. ARGV: id, worker, now.
_RELEASE = """
local s = redis.call('HMGET', KEYS[1], 'state', 'worker')
redis.call('LREM', KEYS[2], 1, ARGV[1])
if s[1] == 'running' and s[2] == ARGV[2] then
  redis.call('HSET', KEYS[1], 'state', 'queued', 'progress', '0', 'updated_at', ARGV[3])
  redis.call('HINCRBY', KEYS[1], 'attempts', -1)
  redis.call('RPUSH', KEYS[3], ARGV[1])
end
return 1
"""
# KEYS: job, queue. ARGV: id, now.
_CANCEL = """
local s = redis.call('HGET', KEYS[1], 'state')
if s == 'queued' or s == 'running' then
  redis.call('HSET', KEYS[1], 'state', 'cancelled', 'updated_at', ARGV[2])
  redis.call('LREM', KEYS[2], 0, ARGV[1])
end
return 1
"""
# KEYS: lease, processing list, queue, workers. ARGV: dead worker, prefix, max attempts,
# now, error message. Does nothing while the lease exists.
_RECOVER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
while true do
  local id = redis.call('RPOP', KEYS[2])
  if not id then break end
  local key = ARGV[2] .. 'job:' .. id
  local s = redis.call('HMGET', key, 'state', 'worker', 'attempts')
  if s[1] == 'running' and s[2] == ARGV[1] then
    if tonumber(s[3] or '0') >= tonumber(ARGV[3]) then
      redis.call('HSET', key, 'state', 'failed', 'error_code', 'interrupted',
                 'error_message', ARGV[5], 'updated_at', ARGV[4])
    else
      redis.call('HSET', key, 'state', 'queued', 'progress', '0', 'updated_at', ARGV[4])
      redis.call('RPUSH', KEYS[3], id)
    end
  elseif s[1] == 'queued' then
    redis.call('RPUSH', KEYS[3], id)
  end
  n = n + 1
end
redis.call('SREM', KEYS[4], ARGV[1])
return n
"""


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    return parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host).geturl()


def _job_key(job_id: str) -> str:
    return f"{PREFIX}job:{job_id}"


def _processing(worker: str) -> str:
    return f"{PREFIX}processing:{worker}"


def _lease(worker: str) -> str:
    return f"{PREFIX}alive:{worker}"


class RedisJobStore:
    """The ``JobStore`` of replicas that share one Redis (6.2 or newer, for BLMOVE)."""

    def __init__(self, url: str) -> None:
        try:
            self._redis = redis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
            self._redis.ping()  # fail at start, not at the first job
        except (redis.RedisError, ValueError) as exc:
            raise HeadcastError(f"cannot use Redis at {_without_password(url)}: {exc}") from None
        self._submit = self._redis.register_script(_SUBMIT)
        self._start = self._redis.register_script(_START)
        self._progress = self._redis.register_script(_PROGRESS)
        self._finish = self._redis.register_script(_FINISH)
        self._release = self._redis.register_script(_RELEASE)
        self._cancel = self._redis.register_script(_CANCEL)
        self._recover = self._redis.register_script(_RECOVER)

    def submit(self, job: JobRecord, max_queued: int) -> bool:
        pairs = [part for item in job.to_fields().items() for part in item]
        added = self._submit(
            keys=[QUEUE, _job_key(job.id), f"{PREFIX}owner:{job.owner}"],
            args=[max_queued, job.id, job.created_at, *pairs],
        )
        return bool(added)

    def get(self, job_id: str) -> JobRecord | None:
        # decode_responses=True: every reply is str, which redis-py's types do not know.
        raw = cast(dict[str, str], self._redis.hgetall(_job_key(job_id)))
        return JobRecord.from_fields(raw) if raw else None

    def list(self, owner: str, limit: int) -> list[JobRecord]:
        ids = cast(list[str], self._redis.zrevrange(f"{PREFIX}owner:{owner}", 0, limit - 1))
        pipe = self._redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(_job_key(job_id))
        return [JobRecord.from_fields(raw) for raw in pipe.execute() if raw]

    def queued_count(self) -> int:
        return int(self._redis.llen(QUEUE))

    def claim(self, worker: str, timeout_s: float) -> JobRecord | None:
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            # BLMOVE's timeout is in seconds with decimals (redis-py types it as int); 0 would
            # block forever.
            timeout = max(0.01, min(left, MAX_BLOCK_S))
            job_id = cast(
                str | None,
                self._redis.blmove(QUEUE, _processing(worker), timeout, "RIGHT", "LEFT"),  # type: ignore[arg-type]
            )
            if job_id is None:
                continue
            if self._start(
                keys=[_job_key(job_id), _processing(worker)], args=[job_id, worker, time.time()]
            ):
                return self.get(job_id)

    def report_progress(self, job_id: str, worker: str, progress: float) -> bool:
        return bool(self._progress(keys=[_job_key(job_id)], args=[worker, progress, time.time()]))

    def finish(
        self,
        job_id: str,
        worker: str,
        state: JobState,
        error: tuple[str, str] | None = None,
        engine: str | None = None,
    ) -> bool:
        code, message = error or ("", "")
        done = self._finish(
            keys=[_job_key(job_id), _processing(worker)],
            args=[job_id, worker, state.value, time.time(), code, message, engine or ""],
        )
        return bool(done)

    def release(self, job_id: str, worker: str) -> None:
        self._release(
            keys=[_job_key(job_id), _processing(worker), QUEUE], args=[job_id, worker, time.time()]
        )

    def cancel(self, job_id: str) -> JobRecord | None:
        self._cancel(keys=[_job_key(job_id), QUEUE], args=[job_id, time.time()])
        return self.get(job_id)

    def keep_alive(self, worker: str, lease_s: float) -> None:
        pipe = self._redis.pipeline(transaction=True)
        pipe.sadd(WORKERS, worker)
        pipe.set(_lease(worker), "1", px=max(1, int(lease_s * 1000)))
        pipe.execute()

    def recover(self, worker: str) -> int:
        found = 0
        for other in cast(set[str], self._redis.smembers(WORKERS)):
            if other == worker:
                continue
            n = self._recover(
                keys=[_lease(other), _processing(other), QUEUE, WORKERS],
                args=[other, PREFIX, MAX_ATTEMPTS, time.time(), INTERRUPTED_MESSAGE],
            )
            found += max(int(n), 0)
        return found

    def close(self, worker: str) -> None:
        """Leave the worker set when nothing is left in this worker's processing list."""
        if self._redis.llen(_processing(worker)) == 0:
            pipe = self._redis.pipeline(transaction=True)
            pipe.srem(WORKERS, worker)
            pipe.delete(_lease(worker))
            pipe.execute()
        self._redis.close()
