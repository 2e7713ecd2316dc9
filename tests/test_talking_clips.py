"""Clips read out of a local git copy by blob id, checked by hash, never half written."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace

import pytest

from scripts.extract_talking_clips import CLIPS, TalkingClip, extract
from tests.conftest import clip_wav
from tests.support.talking_clips import talking_clip


@pytest.fixture
def repository(tmp_path):
    """A real git repository holding one recording, and the clip entry that names it."""
    work = tmp_path / "upstream"
    work.mkdir()
    data = clip_wav("0870").read_bytes()
    (work / "talk.wav").write_bytes(data)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "talk.wav"], check=True)
    subprocess.run([*git, "commit", "-qm", "talk"], check=True)
    blob = subprocess.run(
        [*git, "rev-parse", "HEAD:talk.wav"], check=True, capture_output=True, text=True
    ).stdout.strip()
    clip = TalkingClip(
        "talk", "someone/talks", "talk.wav", blob, hashlib.sha256(data).hexdigest(), 7.1, ""
    )
    return work / ".git", clip, data


def test_a_clip_is_read_by_its_blob_and_recorded(repository, tmp_path):
    git_dir, clip, data = repository
    path = extract(clip, git_dir, tmp_path / "cache")
    assert path.read_bytes() == data
    assert '"repo": "someone/talks"' in (tmp_path / "cache" / "talk.json").read_text()


@pytest.mark.parametrize("wrong", ["sha256", "blob"])
def test_a_clip_that_is_not_what_was_recorded_leaves_nothing(repository, tmp_path, wrong):
    git_dir, clip, _ = repository
    bad = replace(clip, **{wrong: "0" * (64 if wrong == "sha256" else 40)})
    with pytest.raises(ValueError, match=r"hashes to|has no blob"):
        extract(bad, git_dir, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("name", [clip.name for clip in CLIPS])
def test_a_cached_clip_is_the_talking_video_recorded(name):
    """Where the cache holds a clip (skipped where it does not), it is a video with its audio
    of the recorded length."""
    import av

    clip = next(c for c in CLIPS if c.name == name)
    with av.open(str(talking_clip(name))) as container:
        assert container.streams.video and container.streams.audio
        assert abs(container.duration / 1e6 - clip.seconds) < 0.1
