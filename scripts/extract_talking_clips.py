"""Real clips of people talking to camera, taken from local copies of public repositories.

The footage in these repositories is not covered by their code licences, so it is never
committed here: each clip is read out of a local git copy by its blob id, checked against its
SHA-256 and kept in a cache outside the project, with a record of where it came from.
Benchmarks and tests that need a clip skip with a message when the cache lacks it.

    .venv/bin/python scripts/extract_talking_clips.py --repo sstzal/DFRF=/path/to/DFRF/.git ...
    .venv/bin/python scripts/extract_talking_clips.py --mirrors /work/.mirror   # owner+name/repo

The cache is ``$HEADCAST_TEST_CLIPS``, else ``~/.cache/headcast/test-clips``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class TalkingClip:
    """One clip: its name here, where it lives upstream and what it must hash to."""

    name: str
    repo: str  # owner/name on GitHub
    path: str  # in the repository
    blob: str  # git blob id
    sha256: str
    seconds: float
    note: str


CLIPS: tuple[TalkingClip, ...] = (
    TalkingClip(
        "dfrf-cnn2", "sstzal/DFRF", "dataset/vids/cnn2_25fps.mp4",
        "a0553d1901657528d88a9ba57156246d64440cea",
        "9c18a0492531858bff0bce41a7a213337f69fd432e0fe2f254b579e40d6877e7",
        71.2, "512×512, 25 fps, with audio",
    ),
    TalkingClip(
        "dfrf-french", "sstzal/DFRF", "dataset/vids/french.mp4",
        "c9039f7d1500a0677ead1525453c14bbb608e7ad",
        "c10b4523cc1ed89d57287f42a488aaada78cc93b908a256bf5005c987b60cc51",
        50.4, "512×512, 30 fps, with audio",
    ),
    TalkingClip(
        "edtalk-pose2", "tanshuai0219/EDTalk", "test_data/pose_source2.mp4",
        "bcb93894455b912fbd0ac2a6fcfab4896f2a465b",
        "fd62473264970165c19dbac710b12ad0beab4c93f1e5e01e0a44546ba5125c1d",
        60.0, "256×256, 25 fps, with audio",
    ),
    TalkingClip(
        "edtalk-obama", "tanshuai0219/EDTalk", "test_data/uncrop_Obama.mp4",
        "44913b6e9cf76cd0a4e076229c001da40cc29e08",
        "3eb498d35b1786000008da567c786387016b291f5500e3710c34dcf6141c1107",
        20.0, "450×450, 25 fps, with audio",
    ),
    TalkingClip(
        "sadtalker-aoc", "OpenTalker/SadTalker", "examples/ref_video/WDA_AlexandriaOcasioCortez_000.mp4",
        "5c06ff5723d7fe6f9acb89befd9089c1dd18662c",
        "a85242c3fc4d50e2202cea393b9e7ee59019759b68e78e26a254d528c22615a7",
        8.0, "512×512, 25 fps, with audio",
    ),
    TalkingClip(
        "sadtalker-hill", "OpenTalker/SadTalker", "examples/ref_video/WDA_KatieHill_000.mp4",
        "1e295d54abf3fbeb988626e49580560dca52201c",
        "1fbb4cfd64eedc49b170c441714a9c4fd5e2c2f8a11592070ad89fbd257f2817",
        8.0, "512×512, 25 fps, with audio",
    ),
    TalkingClip(
        "liveportrait-d6", "KwaiVGI/LivePortrait", "assets/examples/driving/d6.mp4",
        "df80c605512eb043c4ecf7834b42971a34d11f94",
        "00e3ea79bbf28cbdc4fbb67ec655d9a0fe876e880ec45af55ae481348d0c0fff",
        33.6, "480×480, 30 fps, with audio",
    ),
    TalkingClip(
        "liveportrait-d9", "KwaiVGI/LivePortrait", "assets/examples/driving/d9.mp4",
        "966aa3716fbcfb2db270afc9c653eef2b04c5f46",
        "9a414aa1d547be35306d692065a2157434bf40a6025ba8e30ce12e5bb322cc33",
        19.6, "512×480, 30 fps, with audio",
    ),
)  # fmt: skip


def cache_dir() -> Path:
    configured = os.environ.get("HEADCAST_TEST_CLIPS", "").strip()
    return Path(configured) if configured else Path.home() / ".cache" / "headcast" / "test-clips"


def extract(clip: TalkingClip, git_dir: Path, into: Path) -> Path:
    """Write ``clip`` from the repository at ``git_dir`` into ``into``, checked; the clip's file.

    Raises ValueError when the repository lacks the blob or it does not hash as recorded
    (nothing is left behind then).
    """
    into.mkdir(parents=True, exist_ok=True)
    target = into / f"{clip.name}{Path(clip.path).suffix}"
    blob = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "blob", clip.blob],
        capture_output=True,
    )
    if blob.returncode != 0:
        raise ValueError(f"{clip.repo} at {git_dir} has no blob {clip.blob} ({clip.path})")
    digest = hashlib.sha256(blob.stdout).hexdigest()
    if digest != clip.sha256:
        raise ValueError(f"{clip.name}: blob {clip.blob} hashes to {digest}, not {clip.sha256}")
    with tempfile.NamedTemporaryFile(dir=into, delete=False, suffix=".part") as part:
        part.write(blob.stdout)
    os.replace(part.name, target)
    record = {**asdict(clip), "extracted_from": str(git_dir)}
    (into / f"{clip.name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", action="append", default=[], metavar="OWNER/NAME=GIT_DIR")
    parser.add_argument("--mirrors", type=Path, help="a folder of OWNER+NAME/repo git copies")
    parser.add_argument("--into", type=Path, default=None, help="default: the cache")
    args = parser.parse_args()
    git_dirs = dict(item.split("=", 1) for item in args.repo)
    into = args.into or cache_dir()
    failed = 0
    for clip in CLIPS:
        git_dir = git_dirs.get(clip.repo)
        if git_dir is None and args.mirrors is not None:
            candidate = args.mirrors / clip.repo.replace("/", "+") / "repo"
            git_dir = str(candidate) if candidate.exists() else None
        if git_dir is None:
            print(f"skipped {clip.name}: no copy of {clip.repo} given", file=sys.stderr)
            continue
        try:
            print(f"{clip.name}: {extract(clip, Path(git_dir), into)}")
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
