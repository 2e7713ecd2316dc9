"""A portrait, wherever one is asked for: a photo, or an enrolled avatar named instead."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from headcast.enrol.store import PORTRAIT_FILE, find_enrolled, read_meta
from headcast.errors import InputError
from headcast.face.avatar import Avatar, prepare_avatar
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT


def enrolled_folder(source: object) -> Path | None:
    """The enrolled avatar ``source`` names (a name in the avatar cache or a folder), if any."""
    if not isinstance(source, str | Path):
        return None
    text = str(source)
    if isinstance(source, str) and ("\n" in text or len(text) > 4096):
        return None
    path = Path(source)
    if path.is_file():
        return None  # a photo
    return find_enrolled(source)


def is_enrolled(source: object) -> bool:
    return enrolled_folder(source) is not None


def prepare_portrait(
    source: str | Path | bytes | np.ndarray,
    size_px: int = 512,
    *,
    name: str | None = None,
    head_motion: float = HEAD_MOTION_DEFAULT,
) -> Avatar:
    """The Avatar of a photo, or of an enrolled avatar's representative frame (with its
    folder, for the engines that draw from its real frames); ``head_motion`` is the intensity
    (0 to 1) its recorded head is played with."""
    folder = enrolled_folder(source)
    if folder is None:
        if isinstance(source, str | Path) and not Path(source).exists() and "/" not in str(source):
            raise InputError(
                f"'{str(source)[:80]}': no such photo, and no enrolled avatar of that name"
            )
        return replace(prepare_avatar(source, size_px, name=name), head_motion=head_motion)
    read_meta(folder)  # a clear error for an avatar stored in another format
    image = cv2.imread(str(folder / PORTRAIT_FILE), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"the enrolled avatar '{folder.name}' is damaged: enrol it again")
    avatar = prepare_avatar(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), size_px, name=folder.name)
    return replace(avatar, enrolment=str(folder), head_motion=head_motion)
