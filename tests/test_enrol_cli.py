"""``headcast enrol`` end to end: the shipped GRID clip enrolled by name through the real
command, its report and files, the clips it must refuse, a render of the enrolled avatar
judged by dlib, the listing and the deletion."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from headcast.cli import main
from headcast.enrol import store
from headcast.enrol.coverage import SHAPE_TESTS, VISEME_SENTENCES, full_script
from quality import lipsync
from quality.video import read_video
from tests.conftest import MEDIA, ROOT, clip_wav
from tests.support.enrol_clips import (
    GRID_TRANSCRIPT,
    clip_too_short,
    clip_with_small_face,
    clip_with_two_faces,
    clip_without_face,
    grid_clip,
)

NAME = "grid-s1"
AVATAR_FILES = {
    store.META_FILE,
    store.ARRAYS_FILE,
    store.BASE_FILE,
    store.MOUTHS_FILE,
    store.PORTRAIT_FILE,
}
FPS = 25
SPEECH_S = 113600 / 16000  # librivox-0870.wav


def headcast(cache: Path, *args: str) -> subprocess.CompletedProcess:
    """The real ``headcast`` command in a fresh process, with ``cache`` as its cache."""
    return subprocess.run(
        [sys.executable, "-m", "headcast", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, HEADCAST_CACHE_DIR=str(cache)),
        timeout=600,
    )


def error_line(result: subprocess.CompletedProcess) -> str:
    """The one line a refusal prints; fails on a traceback, a log line or anything else."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("headcast: error: "), lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("enrol-cache")


@pytest.fixture(scope="module")
def enrolment(cache: Path, tmp_path_factory: pytest.TempPathFactory):
    transcript = tmp_path_factory.mktemp("transcript") / "grid.txt"
    transcript.write_text(GRID_TRANSCRIPT)
    started = time.perf_counter()
    result = headcast(
        cache, "enrol", str(grid_clip()), "-o", NAME, "--transcript", f"@{transcript}"
    )
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    print(f"enrolled {NAME} in {seconds:.1f} s:\n{result.stdout}")
    return result


@pytest.fixture(scope="module")
def avatar_folder(cache: Path, enrolment) -> Path:
    return cache / "enrolled" / NAME


def test_enrolment_reports_what_the_clip_covers(enrolment, avatar_folder):
    lines = enrolment.stdout.splitlines()
    usable = re.fullmatch(r"usable: ([\d.]+) s of ([\d.]+) s \((\d+) of (\d+) frames\)", lines[0])
    assert usable, lines[0]
    assert float(usable[1]) == pytest.approx(15.0, abs=0.5)
    assert (int(usable[3]), int(usable[4])) == (375, 375)
    shapes = re.match(rf"mouth shapes: (\d) of {len(SHAPE_TESTS)} seen", lines[1])
    assert shapes and int(shapes[1]) >= 4, lines[1]
    # The clip has speech, labelled with the transcript: visemes are reported too.
    visemes = re.match(rf"visemes: (\d+) of {len(VISEME_SENTENCES)} spoken", lines[2])
    assert visemes and int(visemes[1]) >= 7, lines[2]

    stored = json.loads((avatar_folder / store.META_FILE).read_text())["report"]
    assert stored["usable_s"] == float(usable[1])
    assert len(stored["shapes_covered"]) == int(shapes[1])
    assert "closed" in stored["shapes_covered"] and "open" in stored["shapes_covered"]
    for shape in stored["shapes_missing"]:
        assert shape in lines[1]
    # What is missing comes with the sentences that would show it, as stored.
    if stored["script"]:
        at = lines.index(next(line for line in lines if line.startswith("To fill the gaps")))
        assert [line.strip() for line in lines[at + 1 :]] == stored["script"]
    assert enrolment.stderr.strip().splitlines()[-1].startswith(f"enrolled '{NAME}' in ")
    assert "enrolling" in enrolment.stderr  # the progress bar


def test_enrolled_avatar_is_its_files_and_nothing_else(cache, avatar_folder):
    assert {f.name for f in avatar_folder.iterdir()} == AVATAR_FILES
    assert sorted(p.name for p in (cache / "enrolled").iterdir()) == [NAME]  # no staging left
    meta = json.loads((avatar_folder / store.META_FILE).read_text())
    assert (meta["size_px"], meta["fps"], meta["source"]["name"]) == (512, 25.0, "grid-s1.mp4")
    import cv2

    assert cv2.imread(str(avatar_folder / store.PORTRAIT_FILE)).shape == (512, 512, 3)


def test_list_shows_the_avatar_for_people_and_machines(cache, avatar_folder):
    table = headcast(cache, "enrol", "--list")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["NAME", "USABLE", "SHAPES", "VISEMES", "SIZE", "SOURCE"]
    assert len(rows) == 1
    size_mb = sum(f.stat().st_size for f in avatar_folder.iterdir()) / 1e6
    assert re.fullmatch(
        rf"{NAME}\s+15\.0 s\s+\d/{len(SHAPE_TESTS)}\s+\d+/{len(VISEME_SENTENCES)}\s+"
        rf"{size_mb:.1f} MB\s+grid-s1\.mp4",
        rows[0],
    ), rows[0]

    listing = headcast(cache, "enrol", "--list", "--json")
    assert listing.returncode == 0, listing.stderr
    [entry] = json.loads(listing.stdout)
    assert entry["name"] == NAME and Path(entry["path"]) == avatar_folder
    assert entry["size_bytes"] == sum(f.stat().st_size for f in avatar_folder.iterdir())
    stored = json.loads((avatar_folder / store.META_FILE).read_text())["report"]
    assert entry["report"] == stored


def test_an_enrolled_avatar_renders_through_animate_by_name(cache, avatar_folder, tmp_path, judge):
    out = tmp_path / "enrolled.mp4"
    result = headcast(cache, "animate", NAME, str(clip_wav("0870")), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    video = read_video(out)
    assert abs(len(video.frames) - SPEECH_S * FPS) <= 1
    assert video.fps == pytest.approx(FPS)
    assert video.frames[0].shape == (512, 512, 3)

    measures = judge.track(video.frames)
    assert all(m is not None for m in measures)
    # The person of the clip: every second's frame near the real GRID frames.
    real = _frames_of(grid_clip(), (0, 90, 187, 300, 374))
    references = [judge.embedding(f, judge.measure(f)) for f in real]
    for i in range(0, len(video.frames), FPS):
        embedding = judge.embedding(video.frames[i], measures[i])
        distance = min(judge.identity_distance(embedding, r) for r in references)
        assert distance < 0.4, f"frame {i}: {distance:.3f}"
    # The mouth moves with the speech: it opens wide on some frames and nearly shuts on others.
    apertures = lipsync.apertures_of(measures)
    low, high = np.nanpercentile(apertures, [10, 90])
    assert high > 0.09 and high - low > 0.04, (low, high)


def test_delete_removes_every_file(cache, avatar_folder):
    copy = cache / "enrolled" / "grid-copy"
    shutil.copytree(avatar_folder, copy)
    result = headcast(cache, "enrol", "--delete", "grid-copy")
    assert result.returncode == 0, result.stderr
    assert not copy.exists()
    assert sorted(p.name for p in (cache / "enrolled").iterdir()) == [NAME]
    assert error_line(headcast(cache, "enrol", "--delete", "grid-copy")) == (
        "headcast: error: no enrolled avatar 'grid-copy'"
    )


@pytest.fixture(scope="module")
def bad_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad-clips")
    text = folder / "notes.mp4"
    text.write_text("not a video, whatever its name says\n")
    return {
        "no face": clip_without_face(folder),
        "two faces": clip_with_two_faces(folder),
        "small face": clip_with_small_face(folder),
        "too short": clip_too_short(folder),
        "too long": grid_clip(),
        "audio only": clip_wav("0870"),
        "text": text,
    }


@pytest.mark.parametrize(
    ("clip", "options", "message"),
    [
        ("no face", [], "no face found"),
        ("two faces", [], "several faces"),
        ("small face", [], "the face is too small"),
        ("too short", [], "at least 5 s are needed"),
        ("too long", ["--max-duration", "10"], "is 15 s long; at most 10 s can be enrolled"),
        ("audio only", [], "no video stream"),
        ("text", [], "not a video"),
    ],
)
def test_a_clip_that_cannot_be_enrolled_is_refused_leaving_nothing(
    bad_clips, tmp_path, clip, options, message
):
    cache = tmp_path / "cache"
    cache.mkdir()
    # Quiet: on a terminal the progress bar clears itself, in a pipe it would stay.
    result = headcast(cache, "enrol", str(bad_clips[clip]), "-o", "someone", "-q", *options)
    line = error_line(result)
    assert message in line and str(bad_clips[clip]) in line, line
    assert result.stdout == ""
    assert list(cache.iterdir()) == []


def test_script_is_every_sentence_to_read_in_one_take(capsys):
    assert main(["enrol", "--script"]) == 0
    first, *sentences, last = capsys.readouterr().out.splitlines()
    assert "in one take" in first
    assert [s.strip() for s in sentences] == full_script()
    assert len(sentences) >= len(VISEME_SENTENCES)
    assert last == "Then: headcast enrol VIDEO -o NAME"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give a VIDEO and -o NAME"),
        ([str(MEDIA / "grid-s1.mp4")], "give a VIDEO and -o NAME"),
        ([str(MEDIA / "grid-s1.mp4"), "-o", "two words"], "is not a valid avatar name"),
        ([str(MEDIA / "grid-s1.mp4"), "-o", "x", "--size", "511"], "--size must be an even"),
        ([str(MEDIA / "grid-s1.mp4"), "-o", "x", "--max-duration", "0"], "must be positive"),
        ([str(MEDIA / "grid-s1.mp4"), "-o", "x", "--transcript", " "], "transcript is empty"),
        (["--list", str(MEDIA / "grid-s1.mp4")], "--list takes no VIDEO"),
        (["--script", "--json"], "--json applies to --list"),
        (["--delete", "nobody"], "no enrolled avatar 'nobody'"),
    ],
)
def test_bad_arguments_are_one_line_before_any_work(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("HEADCAST_CACHE_DIR", str(tmp_path))
    assert main(["enrol", *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and message in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_an_avatar_is_never_replaced(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "keep.jpg").write_bytes(b"mine")
    assert main(["enrol", str(MEDIA / "grid-s1.mp4"), "-o", str(folder)]) == 2
    assert "exists and is not an enrolled avatar" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["keep.jpg"]


def test_the_longest_clip_comes_from_the_setting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEADCAST_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HEADCAST_MAX_ENROL_S", "12")
    assert main(["enrol", str(grid_clip()), "-o", "x"]) == 2
    assert "at most 12 s can be enrolled" in capsys.readouterr().err
    monkeypatch.setenv("HEADCAST_MAX_ENROL_S", "ten")
    assert main(["enrol", str(grid_clip()), "-o", "x"]) == 2
    assert "$HEADCAST_MAX_ENROL_S must be a number" in capsys.readouterr().err


def test_a_portrait_that_is_neither_a_photo_nor_an_avatar_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEADCAST_CACHE_DIR", str(tmp_path))
    out = tmp_path / "o.mp4"
    assert main(["say", "nobody", "Hello.", "-o", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (
        "headcast: error: nobody: no such file, and no enrolled avatar of that name "
        "(headcast enrol --list)"
    )
    assert not out.exists()


def test_engines_lists_the_enrolled_engine(capsys):
    assert main(["engines"]) == 0
    rows = capsys.readouterr().out.splitlines()
    enrolled = next(r for r in rows if r.split()[0] == "enrolled")
    assert "motion" in enrolled and "headcast enrol" in enrolled


def _frames_of(path: Path, indices: tuple[int, ...]) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [
            frame.to_ndarray(format="rgb24")
            for i, frame in enumerate(container.decode(video=0))
            if i in indices
        ]
