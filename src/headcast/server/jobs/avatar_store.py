"""Stored portraits: ``<data_dir>/avatars/<id>/`` holds ``avatar.json`` and either the photo
or, for an avatar enrolled from a video, the video until it is enrolled and then the enrolled
avatar's folder (``enrolled/``, written beside and renamed into place by the enrolment).

Plain files rather than a database, so that replicas mounting one data volume all see the same
avatars with no other coordination: ``avatar.json`` is written once (in a temporary folder
renamed into place) and never changed, only deleted with everything beside it. How an
enrolment is going is its job's record; that it is done, the enrolled folder being there.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from headcast.enrol.store import looks_enrolled
from headcast.server.jobs.record import iso_time

AVATAR_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
PHOTO_FILE = "photo"
VIDEO_FILE = "video"  # the video to enrol, removed once its enrolment has ended
ENROLLED_FOLDER = "enrolled"
META_FILE = "avatar.json"
PHOTO_KIND, ENROLLED_KIND = "photo", "enrolled"
LEFTOVER_AGE_S = 3600.0  # a staging folder this old belongs to no live request


@dataclass(frozen=True)
class AvatarRecord:
    """One stored portrait and what the analysis said about it."""

    id: str
    owner: str
    created_at: float  # Unix seconds
    width: int
    height: int
    media_type: str  # of the stored photo or video, judged from its content
    score: dict[str, Any]  # the pick-reference entry of the photo ({} for a video)
    warnings: list[str] = field(default_factory=list)
    kind: str = PHOTO_KIND  # "photo", or "enrolled" from a video
    job_id: str | None = None  # the enrolment's job

    @property
    def enrolled(self) -> bool:
        return self.kind == ENROLLED_KIND

    def to_api(self) -> dict[str, Any]:
        """The avatar as the REST API shows it; a photo's is complete, an enrolled one's
        gets its status from ``enrolment_status``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "created_at": iso_time(self.created_at),
            "width": self.width,
            "height": self.height,
            "score": self.score,
            "warnings": self.warnings,
            "image_url": f"/v1/avatars/{self.id}/image",
            "status": "ready",
            "progress": 100.0,
            "error": None,
            "job_id": self.job_id,
            "coverage": None,
        }


class AvatarStore:
    """Avatars as folders under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _folder(self, avatar_id: str) -> Path | None:
        return self.root / avatar_id if AVATAR_ID_PATTERN.fullmatch(avatar_id) else None

    def create(
        self,
        owner: str,
        photo: bytes,
        *,
        width: int,
        height: int,
        media_type: str,
        score: dict[str, Any],
        warnings: list[str],
    ) -> AvatarRecord:
        staging = self.staging()
        try:
            (staging / PHOTO_FILE).write_bytes(photo)
            return self.commit(
                staging,
                owner,
                width=width,
                height=height,
                media_type=media_type,
                score=score,
                warnings=warnings,
            )
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def staging(self) -> Path:
        """A new folder to fill with an avatar's files before ``commit`` (or removal)."""
        staging = self.root / f".{secrets.token_hex(16)}.part"
        staging.mkdir()
        return staging

    def commit(self, staging: Path, owner: str, **fields: Any) -> AvatarRecord:
        """The avatar whose files are in ``staging``, stored under a new id."""
        record = AvatarRecord(id=secrets.token_hex(16), owner=owner, created_at=time.time(),
                              **fields)  # fmt: skip
        (staging / META_FILE).write_text(json.dumps(asdict(record)))
        os.replace(staging, self.root / record.id)
        return record

    def get(self, avatar_id: str, owner: str | None = None) -> AvatarRecord | None:
        """The avatar, if it exists and (when ``owner`` is given) belongs to ``owner``."""
        folder = self._folder(avatar_id)
        if folder is None:
            return None
        try:
            record = AvatarRecord(**json.loads((folder / META_FILE).read_text()))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return record if owner is None or record.owner == owner else None

    def photo_path(self, avatar_id: str) -> Path | None:
        folder = self._folder(avatar_id)
        return None if folder is None else folder / PHOTO_FILE

    def video_path(self, avatar_id: str) -> Path | None:
        folder = self._folder(avatar_id)
        return None if folder is None else folder / VIDEO_FILE

    def enrolled_folder(self, avatar_id: str) -> Path | None:
        """Where the avatar's enrolment is (or will be) stored."""
        folder = self._folder(avatar_id)
        return None if folder is None else folder / ENROLLED_FOLDER

    def portrait(self, record: AvatarRecord) -> Path | None:
        """What renders draw ``record`` from: its photo, or its enrolled folder once enrolled;
        None while enrolling, after a failed enrolment, or once deleted."""
        if record.enrolled:
            folder = self.enrolled_folder(record.id)
            return folder if folder is not None and looks_enrolled(folder) else None
        photo = self.photo_path(record.id)
        return photo if photo is not None and photo.is_file() else None

    def clear_partial_enrolment(self, avatar_id: str) -> None:
        """What a run of the enrolment cut short by a crash or a stop left half-written."""
        folder = self._folder(avatar_id)
        for stray in folder.glob(".*.part") if folder is not None else ():
            shutil.rmtree(stray, ignore_errors=True)

    def end_enrolment(self, avatar_id: str) -> None:
        """The enrolment has ended: its video and half-written files go; and if the avatar
        was deleted meanwhile, whatever the enrolment wrote after that goes too."""
        folder = self._folder(avatar_id)
        if folder is None:
            return
        (folder / VIDEO_FILE).unlink(missing_ok=True)
        self.clear_partial_enrolment(avatar_id)
        if folder.is_dir() and not (folder / META_FILE).is_file():
            shutil.rmtree(folder, ignore_errors=True)

    def list(self, owner: str) -> list[AvatarRecord]:
        """The owner's avatars, newest first."""
        found = []
        for folder in self.root.iterdir():
            if AVATAR_ID_PATTERN.fullmatch(folder.name):
                record = self.get(folder.name, owner)
                if record is not None:
                    found.append(record)
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    def delete(self, avatar_id: str) -> None:
        folder = self._folder(avatar_id)
        if folder is None:
            return
        # Renamed away first, so readers never see a half-deleted avatar.
        doomed = self.root / f".{avatar_id}.{secrets.token_hex(4)}.deleted"
        try:
            os.replace(folder, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def remove_leftovers(self) -> None:
        """Staging and deleted folders left by a process that died mid-write."""
        cutoff = time.time() - LEFTOVER_AGE_S
        for entry in self.root.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.name.startswith(".") and entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
