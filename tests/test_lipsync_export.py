"""Lip-sync tracks for animators: mouth cues, visemes, ARKit, and every export format.

Each exporter is checked by parsing its output the way its consumer does (TSV columns, JSON
keys, XML elements, Moho's DAT lines, Live Link Face's CSV columns), then by round trip.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import av
import numpy as np
import pytest

from headcast.audio import Audio
from headcast.lipsync import lipsync
from headcast.motion.arkit import ARKIT_BLENDSHAPES, ROTATION_NAMES, arkit_weights
from headcast.motion.export import (
    FORMATS,
    LipSyncResult,
    arkit_csv,
    arkit_json,
    export,
    moho_dat,
    oculus_json,
    rhubarb_json,
    rhubarb_tsv,
    rhubarb_xml,
)
from headcast.motion.mouth_cues import (
    PRESTON_BLAIR_NAMES,
    SHAPES,
    MouthCue,
    MouthCueTrack,
    mouth_cues,
    shapes_per_frame,
)
from headcast.motion.oculus_visemes import (
    OCULUS_VISEMES,
    dominant_visemes,
    oculus_viseme_weights,
)
from headcast.phones.track import Phone, PhoneTrack
from tests.conftest import CLIPS, ROOT, clip_text, clip_wav

FPS = 25.0
CLIP = "0880"  # "he was not an ill disposed young man", 3.0 s


@pytest.fixture(scope="module")
def aligned() -> dict[str, LipSyncResult]:
    """Every clip with its transcript (forced alignment: fast)."""
    return {clip: lipsync(clip_wav(clip), clip_text(clip), FPS) for clip in CLIPS}


@pytest.fixture(scope="module")
def result(aligned) -> LipSyncResult:
    return aligned[CLIP]


def _track(*spans: tuple[str, float, float]) -> PhoneTrack:
    return PhoneTrack(tuple(Phone(*s) for s in spans), spans[-1][2], "alignment")


# --- the shape sets and names ---


def test_names_are_the_documented_ones():
    assert SHAPES == "ABCDEFGHX"
    assert OCULUS_VISEMES == (
        "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U",
    )  # fmt: skip
    assert len(ARKIT_BLENDSHAPES) == len(set(ARKIT_BLENDSHAPES)) == 52
    assert ARKIT_BLENDSHAPES[0] == "eyeBlinkLeft" and ARKIT_BLENDSHAPES[-1] == "tongueOut"
    assert all(name[0].islower() and "_" not in name for name in ARKIT_BLENDSHAPES)
    assert set(FORMATS) == {
        "rhubarb-tsv", "rhubarb-json", "rhubarb-xml", "dat", "oculus-json", "arkit-csv",
        "arkit-json",
    }  # fmt: skip


# --- mouth cues ---


def test_cues_cover_the_audio_without_gaps(aligned):
    for clip, res in aligned.items():
        cues = res.cues
        assert cues[0].start_s == 0.0, clip
        assert all(a.end_s == b.start_s for a, b in itertools.pairwise(cues)), clip
        assert all(c.end_s > c.start_s and c.shape in SHAPES for c in cues), clip
        assert abs(cues[-1].end_s - res.duration_s) <= 0.005 + 1e-9, clip
        assert all(a.shape != b.shape for a, b in itertools.pairwise(cues)), clip
        # Inside speech nothing flickers: in-betweens last ≥ 40 ms, other shapes longer.
        assert all(c.end_s - c.start_s >= 0.04 - 1e-9 for c in cues[1:-1]), clip


def test_bilabials_give_a_closed_mouth_on_cues_and_frames(aligned):
    n_bilabials = 0
    for clip, res in aligned.items():
        for fps in (24.0, 25.0, 30.0):
            frames = shapes_per_frame(res.cues, fps, math.ceil(res.duration_s * fps))
            for phone in res.track.phones:
                if phone.label not in ("P", "B", "M"):
                    continue
                middle = 0.5 * (phone.start_s + phone.end_s)
                under = [c.shape for c in res.cues if c.start_s <= middle < c.end_s]
                assert under == ["A"], (clip, phone)
                first = math.ceil(phone.start_s * fps - 1e-9)
                inside = frames[first : math.ceil(phone.end_s * fps - 1e-9)]
                nearest = frames[min(round(middle * fps), len(frames) - 1)]
                assert "A" in inside or nearest == "A", (clip, fps, phone)
                n_bilabials += fps == FPS
    assert n_bilabials >= 25


def test_shapes_follow_the_phones():
    # "map": M AE P (A, C, A) between pauses; "few": F Y UW (G, then puckered F)
    cues = mouth_cues(
        _track(("SIL", 0, 0.3), ("M", 0.3, 0.4), ("AE", 0.4, 0.6), ("P", 0.6, 0.7),
               ("SIL", 0.7, 1.2), ("F", 1.2, 1.3), ("Y", 1.3, 1.35), ("UW", 1.35, 1.6),
               ("SIL", 1.6, 2.0))
    )  # fmt: skip
    at = {t: next(c.shape for c in cues if c.start_s <= t < c.end_s) for t in (0.1, 0.35, 0.5)}
    assert at == {0.1: "X", 0.35: "A", 0.5: "C"}
    assert [c.shape for c in cues if 1.2 <= c.start_s < 1.6][:1] == ["G"]
    assert any(c.shape == "F" and c.start_s >= 1.3 for c in cues)
    assert cues[-1].shape == "X"
    basic = mouth_cues(_track(("SIL", 0, 0.3), ("F", 0.3, 0.4), ("AA", 0.4, 0.7)), extended=False)
    assert {c.shape for c in basic} <= set("ABCDEF")
    assert {c.shape for c in mouth_cues(_track(("L", 0, 0.3), ("AA", 0.3, 0.6)))} >= {"H"}


def test_a_fast_syllable_still_opens_and_a_short_closure_still_closes():
    # "mum" spoken fast: a 30 ms vowel between two closures must open for ≥ 80 ms.
    cues = mouth_cues(
        _track(("SIL", 0, 0.3), ("M", 0.3, 0.42), ("AH", 0.42, 0.45), ("M", 0.45, 0.57),
               ("SIL", 0.57, 1.0))
    )  # fmt: skip
    opened = [c for c in cues if c.shape not in "AX" and 0.3 <= c.start_s < 0.55]
    assert opened and sum(c.end_s - c.start_s for c in opened) >= 0.08 - 1e-9
    # a 20 ms /b/ between vowels keeps its closure, and a frame shows it at 25 fps
    cues = mouth_cues(_track(("AA", 0, 0.3), ("B", 0.3, 0.32), ("AA", 0.32, 0.6)))
    closures = [c for c in cues if c.shape == "A"]
    assert closures and closures[0].start_s <= 0.3 and closures[0].end_s >= 0.32
    assert "A" in shapes_per_frame(cues, 25, 15)


def test_pauses_hold_relax_or_rest():
    def pause_shape(pause_s: float) -> str:
        cues = mouth_cues(
            _track(("AA", 0, 0.3), ("SIL", 0.3, 0.3 + pause_s), ("IY", 0.3 + pause_s, 0.9))
        )
        return next(c.shape for c in cues if c.start_s <= 0.3 + pause_s / 2 < c.end_s)

    assert pause_shape(0.08) == "D"  # held
    assert pause_shape(0.25) not in ("D", "X", "B")  # relaxed, unlike the next shape (B)
    assert pause_shape(0.5) == "X"


def test_a_long_static_shape_is_broken_up():
    # Five "ee"/"ih" vowels joined by /s/ and /n/ would hold B for over a second.
    spans, t = [], 0.0
    for label in ("IY", "S", "IH", "N", "IY", "S", "IH", "N", "IY"):
        spans.append((label, t, t + 0.13))
        t += 0.13
    cues = mouth_cues(_track(*spans))
    assert max(c.end_s - c.start_s for c in cues) < 0.75


# --- visemes ---


def test_viseme_weights_sum_to_one_and_anticipate(result):
    weights = result.viseme_weights()
    stacked = np.stack([weights[n] for n in OCULUS_VISEMES])
    assert stacked.shape == (15, result.motion.n_frames)
    np.testing.assert_allclose(stacked.sum(axis=0), 1.0, atol=1e-5)
    assert stacked.min() >= 0.0 and stacked.max() <= 1.0
    # The lips close ahead of each bilabial's sound, and PP dominates during it.
    for phone in result.track.phones:
        if phone.label in ("P", "B", "M"):
            before = int(np.floor((phone.start_s - 0.04) * FPS))
            middle = min(round(0.5 * (phone.start_s + phone.end_s) * FPS), len(weights["PP"]) - 1)
            assert weights["PP"][before] > 0.1, phone
            assert dominant_visemes(weights)[middle] == "PP", phone


def test_visemes_cross_fade_without_flicker(aligned):
    runs = single = 0
    for res in aligned.values():
        stacked = np.stack([res.viseme_weights()[n] for n in OCULUS_VISEMES])
        assert np.abs(np.diff(stacked, axis=1)).max() < 0.9  # no hard switches
        lengths = [
            len(list(g)) for _, g in itertools.groupby(dominant_visemes(res.viseme_weights()))
        ]
        runs += len(lengths)
        single += sum(n == 1 for n in lengths[1:-1])
    assert single <= 0.15 * runs


def test_visemes_computed_from_phones_match_the_motion(result):
    own = oculus_viseme_weights(result.track, FPS, result.motion.n_frames)
    bare = LipSyncResult(
        result.track, result.cues, type(result.motion)(FPS, result.motion.controls), FPS
    )
    for name in OCULUS_VISEMES:
        np.testing.assert_allclose(bare.viseme_weights()[name], own[name])


# --- ARKit ---


def test_arkit_weights_follow_the_controls(result):
    weights = arkit_weights(result.motion)
    assert tuple(weights) == ARKIT_BLENDSHAPES
    for name, values in weights.items():
        assert values.shape == (result.motion.n_frames,) and values.dtype == np.float32, name
        assert values.min() >= 0.0 and values.max() <= 1.0, name
    np.testing.assert_allclose(weights["jawOpen"], result.motion.controls["jaw_open"], atol=1e-6)
    np.testing.assert_allclose(weights["eyeBlinkLeft"], result.motion.controls["blink"], atol=1e-6)
    assert weights["jawOpen"].max() > 0.3
    assert np.all(weights["mouthClose"] <= weights["jawOpen"] + 1e-6)


# --- the formats, read as their consumers read them ---


def test_rhubarb_tsv(result):
    text = rhubarb_tsv.write(result.cues)
    rows = list(csv.reader(io.StringIO(text), delimiter="\t"))
    assert all(len(row) == 2 and row[1] in SHAPES for row in rows)
    assert rows[0] == ["0.00", result.cues[0].shape]
    assert all(len(row[0].split(".")[1]) == 2 for row in rows)  # seconds, two decimals
    times = [float(row[0]) for row in rows]
    assert times == sorted(times)
    assert rows[-1] == [f"{result.cues[-1].end_s:.2f}", "X"]  # end of recording, closed
    assert len(rows) == len(result.cues) + 1
    assert rhubarb_tsv.read(text) == list(result.cues)


def test_rhubarb_json(result):
    text = export(result, "rhubarb-json")
    data = json.loads(text)
    assert set(data) == {"metadata", "mouthCues"}
    assert data["metadata"] == {"soundFile": str(clip_wav(CLIP)), "duration": 2.99}
    cues = data["mouthCues"]
    assert all(set(cue) == {"start", "end", "value"} for cue in cues)
    assert cues[0]["start"] == 0 and cues[-1]["end"] == data["metadata"]["duration"]
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(cues))
    assert [c["value"] for c in cues] == [c.shape for c in result.cues]
    assert rhubarb_json.read(text) == MouthCueTrack(result.cues, 2.99, str(clip_wav(CLIP)))
    doc = MouthCueTrack((MouthCue(0.0, 0.5, "X"),), 0.5, 'C:\\a "b".wav')
    assert rhubarb_json.read(rhubarb_json.write(doc.cues, sound_file=doc.sound_file)) == doc


def test_rhubarb_xml(result):
    text = export(result, "rhubarb-xml")
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<rhubarbResult>')
    root = ET.fromstring(text)
    assert root.findtext("metadata/soundFile") == str(clip_wav(CLIP))
    assert root.findtext("metadata/duration") == "2.99"
    elements = root.findall("mouthCues/mouthCue")
    assert [e.text for e in elements] == [c.shape for c in result.cues]
    assert elements[0].get("start") == "0.00"
    assert all(a.get("end") == b.get("start") for a, b in itertools.pairwise(elements))
    assert rhubarb_xml.read(text) == MouthCueTrack(result.cues, 2.99, str(clip_wav(CLIP)))
    doc = MouthCueTrack((MouthCue(0.0, 0.5, "A"),), 0.5, "<&>.wav")
    assert rhubarb_xml.read(rhubarb_xml.write(doc.cues, sound_file=doc.sound_file)) == doc


@pytest.mark.parametrize("fps", [24.0, 25.0, 30.0])
def test_moho_dat(result, fps):
    text = moho_dat.write(result.cues, fps)
    lines = text.splitlines()
    assert lines[0] == "MohoSwitch1"
    keys = [(int(f), s) for f, s in (line.split(" ") for line in lines[1:])]
    assert keys[0] == (1, "X")  # 1-based: the first frame is frame 1
    assert all(a[0] < b[0] and a[1] != b[1] for a, b in itertools.pairwise(keys[:-1]))
    n_frames = math.ceil(result.cues[-1].end_s * fps - 1e-9)
    assert keys[-1] == (n_frames + 1, "X")  # rest on the first frame after the audio
    # Frame k shows time (k - 1) / fps: what a switch layer holds there is the frame's shape.
    frames = shapes_per_frame(result.cues, fps, n_frames)
    for (frame, shape), (next_frame, _) in itertools.pairwise(keys):
        assert set(frames[frame - 1 : next_frame - 1]) == {shape}
    cues = moho_dat.read(text, fps)
    assert cues[0].start_s == 0 and abs(cues[-1].end_s - n_frames / fps) < 1e-9
    assert moho_dat.read(moho_dat.write(cues, fps), fps) == cues
    blair = moho_dat.write(result.cues, fps, preston_blair=True).splitlines()
    assert {line.split(" ")[1] for line in blair[1:]} <= set(PRESTON_BLAIR_NAMES.values())
    assert moho_dat.read("\n".join(blair), fps) == cues


def test_oculus_json(result):
    text = export(result, "oculus-json")
    data = json.loads(text)
    assert data["fps"] == FPS and data["visemes"] == list(OCULUS_VISEMES)
    frames = np.array(data["frames"])
    assert data["frameCount"] == len(frames) == result.motion.n_frames
    assert frames.shape == (result.motion.n_frames, 15)
    assert frames.min() >= 0 and frames.max() <= 1
    np.testing.assert_allclose(frames.sum(axis=1), 1.0, atol=1e-9)
    fps, weights = oculus_json.read(text)
    assert fps == FPS
    for name in OCULUS_VISEMES:
        np.testing.assert_allclose(weights[name], result.viseme_weights()[name], atol=1.5e-4)
    assert oculus_json.write(weights, fps) == text  # a written file round-trips exactly


def test_arkit_csv_in_live_link_face_layout(result):
    text = export(result, "arkit-csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    header = text.splitlines()[0].split(",")
    assert header[:2] == ["Timecode", "BlendShapeCount"]
    assert header[-9:] == list(ROTATION_NAMES)
    assert tuple(header[2:-9]) == arkit_csv.BLENDSHAPE_COLUMNS and len(header) == 63
    assert header[16:25] == [
        "JawForward", "JawRight", "JawLeft", "JawOpen", "MouthClose", "MouthFunnel",
        "MouthPucker", "MouthRight", "MouthLeft",
    ]  # fmt: skip
    assert {n[0].lower() + n[1:] for n in header[2:-9]} == set(ARKIT_BLENDSHAPES)
    assert len(rows) == result.motion.n_frames
    assert all(row["BlendShapeCount"] == "61" for row in rows)
    assert [r["Timecode"] for r in rows[:2]] + [rows[26]["Timecode"]] == [
        "00:00:00:00.000", "00:00:00:01.000", "00:00:01:01.000",
    ]  # fmt: skip
    jaw = np.array([float(r["JawOpen"]) for r in rows])
    np.testing.assert_allclose(jaw, result.motion.controls["jaw_open"], atol=1e-6)
    times, shapes, rotations = arkit_csv.read(text, FPS)
    np.testing.assert_allclose(times, np.arange(len(rows)) / FPS, atol=1e-9)
    assert set(shapes) == set(ARKIT_BLENDSHAPES) and tuple(rotations) == ROTATION_NAMES
    assert arkit_csv.write(shapes, FPS, rotations) == text


def test_arkit_json(result):
    text = export(result, "arkit-json")
    data = json.loads(text)
    assert data["fps"] == FPS and data["frameCount"] == len(data["frames"])
    first = data["frames"][1]
    assert list(first["blendShapes"]) == list(ARKIT_BLENDSHAPES)
    assert first["time"] == pytest.approx(1 / FPS)
    assert set(first["headRotation"]) == {"yaw", "pitch", "roll"}
    fps, shapes, rotations = arkit_json.read(text)
    expected = arkit_weights(result.motion)
    for name in ARKIT_BLENDSHAPES:
        np.testing.assert_allclose(shapes[name], expected[name], atol=5e-5)
    assert arkit_json.write(shapes, fps, rotations) == text


def test_registry_writes_every_format(result):
    for name, fmt in FORMATS.items():
        text = fmt.write(result)
        assert text.endswith("\n") and fmt.extension.startswith(".") and "/" in fmt.mime_type
        assert export(result, name) == text
    with pytest.raises(ValueError, match="unknown format"):
        export(result, "mp4")


# --- inputs ---


def test_silence_and_noise_rest(tmp_path):
    rng = np.random.default_rng(3)
    for samples in (np.zeros(32000, np.float32), (0.3 * rng.standard_normal(48000)).astype("f4")):
        res = lipsync(Audio(samples, 16000), fps=FPS)
        assert {c.shape for c in res.cues} == {"X"}
        assert set(dominant_visemes(res.viseme_weights())) == {"sil"}
        np.testing.assert_allclose(res.viseme_weights()["sil"], 1.0, atol=1e-6)
        assert arkit_weights(res.motion)["jawOpen"].max() == 0.0
        for name in FORMATS:
            export(res, name)
    assert mouth_cues(PhoneTrack((), 0.0, "recognition"))[0].shape == "X"


def test_44k_stereo_audio_gives_the_same_cues(tmp_path, result):
    """Transcode the clip to 44.1 kHz stereo FLAC with PyAV; the cues barely change."""
    source = av.open(str(clip_wav(CLIP)))
    target_path = tmp_path / "stereo.flac"
    with av.open(str(target_path), "w") as target:
        stream = target.add_stream("flac", rate=44100, layout="stereo")
        resampler = av.AudioResampler(format="s16", layout="stereo", rate=44100)
        for frame in source.decode(audio=0):
            for out in resampler.resample(frame):
                target.mux(stream.encode(out))
        for out in resampler.resample(None):
            target.mux(stream.encode(out))
        target.mux(stream.encode(None))
    source.close()
    with av.open(str(target_path)) as check:
        assert check.streams.audio[0].rate == 44100
        assert check.streams.audio[0].channels == 2
    res = lipsync(target_path, clip_text(CLIP), FPS)
    n = round(res.duration_s * 100)
    ours, theirs = shapes_per_frame(res.cues, 100, n), shapes_per_frame(result.cues, 100, n)
    assert np.mean([a == b for a, b in zip(ours, theirs, strict=True)]) >= 0.9


# --- the command line ---


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """The real ``headcast lipsync`` command in a fresh process."""
    env = dict(os.environ)
    return subprocess.run(
        [sys.executable, "-m", "headcast", "lipsync", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        input=stdin,
        timeout=300,
    )


def test_cli_writes_stdout_and_files(tmp_path, result):
    wav = str(clip_wav(CLIP))
    out = _cli(wav, "--text", "-", stdin=clip_text(CLIP))
    assert out.returncode == 0, out.stderr
    assert rhubarb_tsv.read(out.stdout) == list(result.cues)  # stdout holds the TSV only

    target = tmp_path / "mouth.dat"
    out = _cli(wav, "--text", clip_text(CLIP), "--fps", "24", "--preston-blair", "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    lines = target.read_text().splitlines()
    assert lines[0] == "MohoSwitch1" and lines[1] == "1 rest"
    assert moho_dat.read(target.read_text(), 24) == moho_dat.read(
        moho_dat.write(result.cues, 24), 24
    )

    out = _cli(str(tmp_path / "missing.wav"))
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "error" in out.stderr
    out = _cli(wav, "-o", str(tmp_path / "no" / "such" / "dir.tsv"))
    assert out.returncode == 2 and "does not exist" in out.stderr
