"""Enrolled avatars on disk: one folder each, written once and never changed.

``enrolled.json`` holds what a person reads (source, coverage report) and the format
version; ``frames.npz`` the per-frame numbers; ``base.images`` and ``mouths.images`` the
base frames (WebP) and the mouth crops (JPEG) one after another, read one at a time when drawn (their
byte offsets are in ``frames.npz``); ``portrait.png`` the representative frame.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import threading
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import cv2
import numpy as np

from headcast import settings
from headcast.enrol.coverage import CoverageReport
from headcast.errors import InputError

FORMAT_VERSION = 2
META_FILE = "enrolled.json"
ARRAYS_FILE = "frames.npz"
BASE_FILE = "base.images"
MOUTHS_FILE = "mouths.images"
PORTRAIT_FILE = "portrait.png"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
OPEN_AVATARS = 8  # enrolled avatars kept open per process
ENCODE_QUEUE_IMAGES = 4


def enrolled_root() -> Path:
    return settings.cache_dir() / "enrolled"


def folder_for(output: str | Path) -> Path:
    """Where ``output`` (a NAME, or a folder path) is stored."""
    text = str(output)
    if isinstance(output, Path) or "/" in text or os.sep in text:
        return Path(output)
    if not NAME_PATTERN.fullmatch(text) or text.endswith(".part"):
        raise InputError(
            f"'{text[:80]}' is not a valid avatar name (letters, digits, '.', '-', '_'; "
            "at most 64; or give a folder path)"
        )
    return enrolled_root() / text


def looks_enrolled(folder: Path) -> bool:
    return (folder / META_FILE).is_file()


def find_enrolled(ref: str | Path) -> Path | None:
    """The folder of the enrolled avatar ``ref`` (a name or a folder), or None."""
    try:
        folder = folder_for(ref)
    except InputError:
        return None
    return folder if looks_enrolled(folder) else None


class BlobWriter:
    """Images encoded (WebP or JPEG, by ``kind``) and appended one after another, with
    their offsets. Encoding runs on a thread of its own, beside whatever makes the images
    (the encoders let go of the GIL); a few images wait at most."""

    def __init__(self, path: Path, kind: str, quality: int) -> None:
        flag = {".webp": cv2.IMWRITE_WEBP_QUALITY, ".jpg": cv2.IMWRITE_JPEG_QUALITY}[kind]
        self._params = [flag, quality]
        self._kind = kind
        self._file: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed by close())
        self._encoder = ThreadPoolExecutor(max_workers=1)
        self._pending: deque[Future[bytes]] = deque()
        self.offsets = [0]

    def add(self, image_rgb: np.ndarray) -> None:
        self._pending.append(self._encoder.submit(self._encode, image_rgb))
        while len(self._pending) > ENCODE_QUEUE_IMAGES:
            self._write(self._pending.popleft().result())

    def _encode(self, image_rgb: np.ndarray) -> bytes:
        ok, data = cv2.imencode(
            self._kind, cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), self._params
        )
        if not ok:
            raise RuntimeError(f"{self._kind} encoding failed")
        return data.tobytes()

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self.offsets.append(self.offsets[-1] + len(data))

    def close(self) -> None:
        """Write what is still being encoded (unless an error is on its way) and close."""
        try:
            while self._pending:
                self._write(self._pending.popleft().result())
        finally:
            for job in self._pending:
                job.cancel()
            self._encoder.shutdown(wait=True)
            self._file.close()


class BlobReader:
    """One image of a blob file at a time; safe from several threads."""

    def __init__(self, path: Path, offsets: np.ndarray) -> None:
        self._fd = os.open(path, os.O_RDONLY)
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def image(self, index: int) -> np.ndarray:
        start, stop = int(self._offsets[index]), int(self._offsets[index + 1])
        data = os.pread(self._fd, stop - start, start)
        bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"a stored frame ({index}) is damaged: enrol the avatar again")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


@dataclass(frozen=True)
class EnrolledInfo:
    name: str
    path: Path
    report: CoverageReport
    source: str
    created_at: float
    size_bytes: int


class EnrolledAvatar:
    """An enrolled avatar opened for drawing: its numbers in memory, its images on disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.meta = read_meta(folder)
        with np.load(folder / ARRAYS_FILE) as data:
            self.arrays: dict[str, np.ndarray] = {k: data[k] for k in data.files}
        self.base = BlobReader(folder / BASE_FILE, self.arrays["base_offsets"])
        self.mouths = BlobReader(folder / MOUTHS_FILE, self.arrays["mouth_offsets"])

    @property
    def size_px(self) -> int:
        return int(self.meta["size_px"])

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])

    @property
    def report(self) -> CoverageReport:
        return CoverageReport.from_dict(self.meta["report"])

    def close(self) -> None:
        self.base.close()
        self.mouths.close()


_open: OrderedDict[tuple[str, float], EnrolledAvatar] = OrderedDict()
_open_lock = threading.Lock()


def open_enrolled(folder: str | Path) -> EnrolledAvatar:
    """The enrolled avatar in ``folder``, opened once per process (reopened when rewritten)."""
    folder = Path(folder)
    try:
        stamp = (folder / META_FILE).stat().st_mtime
    except OSError:
        raise InputError(f"no enrolled avatar at '{folder}'") from None
    key = (str(folder.resolve()), stamp)
    with _open_lock:
        if key in _open:
            _open.move_to_end(key)
            return _open[key]
    avatar = EnrolledAvatar(folder)
    with _open_lock:
        _open[key] = avatar
        while len(_open) > OPEN_AVATARS:
            _open.popitem(last=False)[1].close()
    return avatar


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta: dict[str, Any] = json.loads((folder / META_FILE).read_text())
    except (OSError, ValueError):
        raise InputError(f"no enrolled avatar at '{folder}' (or it is damaged)") from None
    if meta.get("format") != FORMAT_VERSION:
        source = meta.get("source", {}).get("name", "the video")
        raise InputError(
            f"the enrolled avatar '{folder.name}' was stored in format {meta.get('format')}; "
            f"this headcast reads format {FORMAT_VERSION}: enrol it again "
            f"(headcast enrol {source} -o {folder.name})"
        )
    return meta


class StagedFolder:
    """A folder written beside its final place and renamed into it when complete, so that a
    half-written avatar is never seen; a failure leaves nothing behind."""

    def __init__(self, final: Path) -> None:
        self.final = final
        final.parent.mkdir(parents=True, exist_ok=True)
        self.path = final.parent / f".{final.name}.{secrets.token_hex(4)}.part"
        self.path.mkdir()

    def commit(self) -> None:
        if self.final.exists():
            if not looks_enrolled(self.final):
                raise InputError(f"'{self.final}' exists and is not an enrolled avatar")
            _remove(self.final)
        os.replace(self.path, self.final)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def write_meta(folder: Path, meta: dict[str, Any]) -> None:
    (folder / META_FILE).write_text(json.dumps({"format": FORMAT_VERSION, **meta}, indent=1))


def list_enrolled(root: Path | None = None) -> list[EnrolledInfo]:
    """The enrolled avatars under ``root`` (the cache by default), by name."""
    root = root or enrolled_root()
    found: list[EnrolledInfo] = []
    if not root.is_dir():
        return found
    for folder in sorted(root.iterdir()):
        if folder.name.startswith(".") or not looks_enrolled(folder):
            continue
        try:
            meta = json.loads((folder / META_FILE).read_text())
            report = CoverageReport.from_dict(meta["report"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        found.append(
            EnrolledInfo(
                name=folder.name,
                path=folder,
                report=report,
                source=str(meta.get("source", {}).get("name", "")),
                created_at=float(meta.get("created_at", 0.0)),
                size_bytes=size,
            )
        )
    return found


def delete_enrolled(ref: str | Path) -> Path:
    """Remove the enrolled avatar ``ref`` (a name or a folder) and all its files."""
    folder = find_enrolled(ref)
    if folder is None:
        raise InputError(f"no enrolled avatar '{str(ref)[:80]}'")
    _remove(folder)
    return folder


def _remove(folder: Path) -> None:
    # Renamed away first, so that readers never see half an avatar.
    doomed = folder.parent / f".{folder.name}.{secrets.token_hex(4)}.deleted"
    os.replace(folder, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
