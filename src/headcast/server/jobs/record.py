"""A render job as every job store keeps it, and the states it moves through.

queued → running → succeeded | failed | cancelled; running → queued again when its worker
stops (gracefully, or dies and is found dead), at most ``MAX_ATTEMPTS`` times in all.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# A job whose worker died this many times while running it fails instead of running again.
MAX_ATTEMPTS = 2
INTERRUPTED_MESSAGE = (
    f"the server stopped while rendering this job {MAX_ATTEMPTS} times; it was not retried again"
)
JOB_ID_PATTERN = re.compile(r"[0-9a-f]{32}")


class JobKind(enum.StrEnum):
    RENDER = "render"  # a video of a stored avatar speaking
    ENROL = "enrol"  # a stored avatar's video enrolled (``avatar_id`` names the avatar)


class JobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class JobRecord:
    """Everything known about one job; stores persist exactly these fields."""

    id: str
    owner: str  # a digest of the caller's identity, never the API key itself
    state: JobState
    avatar_id: str
    format: str  # "mp4" | "webm"
    fps: float
    size_px: int
    has_audio: bool  # an uploaded recording, kept in the job's folder
    text: str | None  # transcript of the audio, or the words to synthesize without one
    voice: str | None  # built-in TTS voice when there is no audio
    created_at: float  # Unix seconds
    updated_at: float
    progress: float = 0.0  # percent of frames rendered
    attempts: int = 0  # times a worker has started it
    worker: str = ""  # the worker running it now, or the last one that did
    error_code: str | None = None
    error_message: str | None = None
    engine: str = "warp"  # the rendering engine, by name
    kind: JobKind = JobKind.RENDER

    @classmethod
    def new(cls, owner: str, **spec: Any) -> JobRecord:
        now = time.time()
        return cls(
            id=secrets.token_hex(16),
            owner=owner,
            state=JobState.QUEUED,
            created_at=now,
            updated_at=now,
            **spec,
        )

    def with_changes(self, **changes: Any) -> JobRecord:
        return replace(self, **changes)

    def to_fields(self) -> dict[str, str]:
        """Every field as text, for stores that keep strings (Redis hashes)."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            out[f.name] = str(int(value)) if isinstance(value, bool) else str(value)
        return out

    @classmethod
    def from_fields(cls, raw: dict[str, Any]) -> JobRecord:
        """The inverse of ``to_fields``; also reads SQLite rows (native types)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = raw.get(f.name)
            if value is None or (value == "" and f.name in _OPTIONAL_TEXT):
                values[f.name] = None if f.name in _OPTIONAL_TEXT else _DEFAULTS.get(f.name, "")
                continue
            values[f.name] = _CONVERT.get(f.name, str)(value)
        return cls(**values)

    def to_api(self) -> dict[str, Any]:
        """The job as the REST API shows it."""
        error = (
            {"code": self.error_code, "message": self.error_message or ""}
            if self.error_code
            else None
        )
        return {
            "id": self.id,
            "state": self.state.value,
            "progress": round(self.progress, 1),
            "error": error,
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.updated_at),
            "video_url": (
                f"/v1/jobs/{self.id}/video"
                if self.state == JobState.SUCCEEDED and self.kind == JobKind.RENDER
                else None
            ),
            "avatar_id": self.avatar_id,
            "format": self.format,
            "fps": self.fps,
            "size": self.size_px,
            "attempts": self.attempts,
            "engine": self.engine,
            "kind": self.kind.value,
        }


_OPTIONAL_TEXT = {"text", "voice", "error_code", "error_message"}
_DEFAULTS: dict[str, Any] = {
    "progress": 0.0,
    "attempts": 0,
    "worker": "",
    "engine": "warp",
    "kind": JobKind.RENDER,
}
_CONVERT: dict[str, Any] = {
    "state": JobState,
    "kind": JobKind,
    "fps": float,
    "size_px": int,
    "has_audio": lambda v: bool(int(v)),
    "created_at": float,
    "updated_at": float,
    "progress": float,
    "attempts": int,
}


def owner_id(caller: str) -> str:
    """A stable digest of the caller (``key:...`` or ``addr:...``) for records at rest."""
    return hashlib.sha256(caller.encode()).hexdigest()[:24]


def iso_time(unix_s: float) -> str:
    return (
        datetime.fromtimestamp(unix_s, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


@dataclass(frozen=True)
class JobFiles:
    """Where a job's files live: ``<data_dir>/jobs/<id>/`` (shared by replicas with Redis)."""

    root: Path

    @classmethod
    def under(cls, data_dir: Path) -> JobFiles:
        return cls(data_dir / "jobs")

    def folder(self, job_id: str) -> Path:
        if not JOB_ID_PATTERN.fullmatch(job_id):
            raise ValueError(f"not a job id: {job_id!r}")
        return self.root / job_id

    def audio(self, job_id: str) -> Path:
        return self.folder(job_id) / "audio"

    def video(self, job: JobRecord) -> Path:
        return self.folder(job.id) / f"video.{job.format}"
