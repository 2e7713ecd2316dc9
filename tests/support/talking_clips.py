"""Real talking-head clips from the cache ``scripts/extract_talking_clips.py`` fills; a test
or benchmark that needs one skips, saying how to get it, where the cache lacks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.extract_talking_clips import CLIPS, cache_dir


def talking_clip(name: str) -> Path:
    """The cached clip ``name`` (see ``CLIPS``), or a skip naming the script that extracts it."""
    clip = next((c for c in CLIPS if c.name == name), None)
    if clip is None:
        raise KeyError(f"no talking clip named {name!r}")
    path = cache_dir() / f"{clip.name}{Path(clip.path).suffix}"
    if not path.exists():
        pytest.skip(
            f"{name} is not in {cache_dir()}: run scripts/extract_talking_clips.py with a "
            f"local copy of {clip.repo}"
        )
    return path
