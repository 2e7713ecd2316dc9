"""Stored portraits: ``<data_dir>/avatars/<id>/`` holds the photo and ``avatar.json``.

Plain files rather than a database, so that replicas mounting one data volume all see the same
avatars with no other coordination: an avatar is written once (to a temporary folder renamed
into place) and never changed, only deleted.
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

from headcast.server.jobs.record import iso_time

AVATAR_ID_PATTERN = re.compile(r"[0-9a-f]{32}")
PHOTO_FILE = "photo"
META_FILE = "avatar.json"
LEFTOVER_AGE_S = 3600.0  # a staging folder this old belongs to no live request


@dataclass(frozen=True)
class AvatarRecord:
    """One stored portrait and what the analysis said about it."""

    id: str
    owner: str
    created_at: float  # Unix seconds
    width: int
    height: int
    media_type: str  # of the stored photo, judged from its content
    score: dict[str, Any]  # the pick-reference entry of the photo
    warnings: list[str] = field(default_factory=list)

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": iso_time(self.created_at),
            "width": self.width,
            "height": self.height,
            "score": self.score,
            "warnings": self.warnings,
            "image_url": f"/v1/avatars/{self.id}/image",
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
        record = AvatarRecord(
            id=secrets.token_hex(16),
            owner=owner,
            created_at=time.time(),
            width=width,
            height=height,
            media_type=media_type,
            score=score,
            warnings=warnings,
        )
        staging = self.root / f".{record.id}.part"
        staging.mkdir()
        try:
            (staging / PHOTO_FILE).write_bytes(photo)
            (staging / META_FILE).write_text(json.dumps(asdict(record)))
            os.replace(staging, self.root / record.id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
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
