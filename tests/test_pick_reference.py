"""Picking the reference photo: real portraits and frames degraded on purpose, ranked and explained.

The test set is a folder of one person's photos: an untouched frontal portrait (obama.jpg), a
real second portrait of him speaking and looking aside (obama2.jpg), and copies of the frontal
one each spoiled in one way. The frontal original must rank first, every copy below it, and each
copy's main flaw must be the criterion that was spoiled, with the right words.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import MEDIA, SAMPLES, run_cli

BASE = MEDIA / "obama.jpg"

# file name -> (criterion that must be the main flaw, words its reason must contain)
DEGRADED = {
    "blurred.jpg": ("sharpness", "blurry"),
    "darkened.jpg": ("exposure", "underexposed"),
    "overexposed.jpg": ("exposure", "overexposed"),
    "rotated.jpg": ("pose", "tilted sideways"),
    "mirrored_cropped.jpg": ("framing", "cut off at the top"),
    "downscaled.jpg": ("resolution", "small face"),
    "eyes_darkened.jpg": ("occlusion", "eyes covered"),
    "side_lit.jpg": ("lighting", "lit from one side"),
}
REAL = {"obama.jpg": ("mouth", "smiling"), "obama2.jpg": ("mouth", "mouth open")}


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    v = rgb.astype(np.float32) / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    v = np.clip(linear, 0.0, 1.0)
    v = np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)
    return np.round(v * 255).astype(np.uint8)


def build_test_set(folder: Path) -> dict[str, tuple[str, str]]:
    """Write the test set into ``folder``; returns {file name: (main flaw, reason words)}."""
    from headcast.face import regions as R
    from headcast.face.image_io import load_image
    from headcast.face.landmarks import detect_faces

    folder.mkdir(parents=True, exist_ok=True)
    base = load_image(BASE)
    face = detect_faces(base)[0]
    pts, iod = face.points, R.inter_ocular_px(face.points)
    x0, y0, x1, y1 = face.box
    h, w = base.shape[:2]

    def save(name: str, rgb: np.ndarray) -> None:
        Image.fromarray(np.ascontiguousarray(rgb)).save(folder / name, quality=92)

    save("obama.jpg", base)
    save("obama2.jpg", load_image(MEDIA / "obama2.jpg"))
    save("blurred.jpg", cv2.GaussianBlur(base, (0, 0), 0.04 * iod))  # 2.6 px at 64 px eyes
    save("darkened.jpg", _to_srgb(_to_linear(base) * 0.04))  # 4.6 stops under
    save("overexposed.jpg", _to_srgb(_to_linear(base) * 5.0))  # 2.3 stops over
    turn = cv2.getRotationMatrix2D(tuple(map(float, pts[R.NOSE_TIP, :2])), 30, 1.0)
    save("rotated.jpg", cv2.warpAffine(base, turn, (w, h), borderMode=cv2.BORDER_REPLICATE))
    mirrored = base[:, ::-1]  # then cropped just above the brows and beside the face
    left = int(max(0, w - x1 - 0.05 * (y1 - y0)))
    save("mirrored_cropped.jpg", mirrored[int(y0 + 0.05 * (y1 - y0)) :, left:])
    save("downscaled.jpg", cv2.resize(base, None, fx=0.22, fy=0.22, interpolation=cv2.INTER_AREA))
    eyes = pts[list(R.RIGHT_EYE_UPPER + R.RIGHT_EYE_LOWER + R.LEFT_EYE_UPPER + R.LEFT_EYE_LOWER)]
    (ex0, ey0), (ex1, ey1) = eyes[:, :2].min(0) - 0.25 * iod, eyes[:, :2].max(0) + 0.25 * iod
    shaded = base.astype(np.float32)
    shaded[int(ey0) : int(ey1), int(ex0) : int(ex1)] *= 0.12
    save("eyes_darkened.jpg", shaded.astype(np.uint8))
    light = np.clip(1.2 - 1.6 * (np.arange(w) - x0) / (x1 - x0), 0.02, 1.0)  # a lamp at the left
    save("side_lit.jpg", _to_srgb(_to_linear(base) * light[None, :, None]))
    return {**REAL, **DEGRADED}


@pytest.fixture(scope="module")
def test_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("portraits")
    expected = build_test_set(folder)
    from headcast.face.reference_score import rank_references

    ranked, skipped = rank_references([folder])
    return folder, expected, {Path(r.path).name: r for r in ranked}, ranked, skipped


def test_untouched_frontal_photo_ranks_first(test_set):
    _folder, expected, by_name, ranked, skipped = test_set
    assert not skipped
    assert Path(ranked[0].path).name == "obama.jpg", [(Path(r.path).name, r.score) for r in ranked]
    best = by_name["obama.jpg"]
    assert len(ranked) == len(expected)
    assert by_name["obama2.jpg"].score < best.score
    for name in DEGRADED:
        assert by_name[name].score < best.score - 0.1, (name, by_name[name].score, best.score)
    assert [r.rank for r in ranked] == list(range(1, len(ranked) + 1))
    assert all(0.0 <= c.score <= 1.0 for r in ranked for c in r.criteria)


@pytest.mark.parametrize("name", sorted(DEGRADED) + sorted(REAL))
def test_each_photo_names_the_right_flaw(test_set, name):
    _folder, expected, by_name, _ranked, _skipped = test_set
    criterion, words = expected[name]
    result = by_name[name]
    assert result.main_flaw is not None, name
    assert result.main_flaw.name == criterion, (name, result.top_reasons())
    assert words in result.main_flaw.reason, (name, result.main_flaw.reason)
    assert words in result.top_reasons()[0]
    if name in DEGRADED:  # the spoiled criterion fell well below the original's
        original = by_name["obama.jpg"].criterion(criterion).score
        assert result.criterion(criterion).score < original - 0.4, (name, result.criteria)


def test_measurements_of_the_untouched_photo(test_set):
    _folder, _expected, by_name, _ranked, _skipped = test_set
    best = by_name["obama.jpg"]
    assert best.face_found and best.faces == 1 and best.usable
    assert abs(best.yaw_deg) < 6 and abs(best.pitch_deg) < 6 and abs(best.roll_deg) < 4
    assert 130 < best.eye_distance_px < 170
    assert best.image_size == (910, 1137)
    for name in ("resolution", "pose", "sharpness", "exposure", "lighting", "occlusion"):
        assert best.criterion(name).score > 0.9, best.criterion(name)
    rotated = by_name["rotated.jpg"]
    assert 25 < abs(rotated.roll_deg) < 35
    assert by_name["obama2.jpg"].yaw_deg < -8  # looking towards the left of the picture
    assert by_name["downscaled.jpg"].eye_distance_px < 40


def test_other_people(tmp_path):
    """Real portraits of other people: a slightly turned face and a small one."""
    from headcast.face.reference_score import rank_references

    ranked, skipped = rank_references([MEDIA / "biden.jpg", SAMPLES / "astronaut.png"])
    by_name = {Path(r.path).name: r for r in ranked}
    assert not skipped
    biden, astronaut = by_name["biden.jpg"], by_name["astronaut.png"]
    assert biden.main_flaw.name == "pose" and "turned" in biden.main_flaw.reason
    assert biden.criterion("mouth").score > 0.9  # mouth closed
    assert astronaut.main_flaw.name == "resolution"  # 512² photo: 61 px between the eyes
    assert astronaut.criterion("mouth").score < 0.85  # smiling with teeth


def test_exif_orientation_and_reduced_decoding(tmp_path):
    """A 12 MP-class JPEG stored sideways with an EXIF tag scores like the upright original."""
    from headcast.face.reference_score import load_reduced, rank_references

    big = Image.open(BASE).convert("RGB").resize((2730, 3411), Image.Resampling.BICUBIC)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    big.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "sideways.jpg", exif=exif)
    rgb, scale, size = load_reduced(tmp_path / "sideways.jpg")
    assert size == (2730, 3411) and rgb.shape[0] > rgb.shape[1]  # upright
    assert max(rgb.shape) < 2400 and scale > 1.5  # decoded reduced
    ranked, _ = rank_references([tmp_path / "sideways.jpg", BASE])
    sideways, original = sorted(ranked, key=lambda r: r.path != str(tmp_path / "sideways.jpg"))
    assert abs(sideways.roll_deg) < 4
    assert abs(sideways.score - original.score) < 0.05
    assert sideways.eye_distance_px == pytest.approx(3.0 * original.eye_distance_px, rel=0.06)


def test_unreadable_files_are_skipped_with_the_reason(tmp_path):
    from headcast.face.reference_score import HEIF_SUPPORTED, rank_references

    (tmp_path / "notes.jpg").write_text("not a photo")
    (tmp_path / "cut.jpg").write_bytes(BASE.read_bytes()[:4000])
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    (tmp_path / "phone.heic").write_bytes(heic)
    ranked, skipped = rank_references([tmp_path, tmp_path / "missing.png", BASE])
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert [Path(r.path).name for r in ranked] == ["obama.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert "damaged or truncated" in reasons["cut.jpg"]
    assert reasons["missing.png"] == "no such file"
    if not HEIF_SUPPORTED:
        assert "pillow-heif" in reasons["phone.heic"]
    else:
        assert "phone.heic" in reasons


def test_warnings_for_animate(test_set):
    from headcast.face.reference_score import poor_reference_warnings

    _folder, _expected, by_name, _ranked, _skipped = test_set
    assert poor_reference_warnings(by_name["obama.jpg"]) == []
    lines = poor_reference_warnings(by_name["blurred.jpg"])
    assert lines and "blurry" in lines[0] and "blurred.jpg" in lines[0]


# -- the command line ----------------------------------------------------------------------------


def pick_reference(*args: str) -> subprocess.CompletedProcess:
    """`headcast pick-reference ...` in a fresh process."""
    return run_cli("pick-reference", *args)


def test_cli_table_json_sheet_and_best(test_set, tmp_path):
    folder, _expected, _by_name, _ranked, _skipped = test_set
    (tmp_path / "junk.png").write_bytes(b"junk")
    sheet, best = tmp_path / "sheet.png", tmp_path / "best.png"
    r = pick_reference(
        str(folder),
        str(tmp_path / "junk.png"),
        "--json",
        "--sheet",
        str(sheet),
        "--best",
        str(best),
    )
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert Path(report["ranked"][0]["path"]).name == "obama.jpg"
    assert report["best"] == report["ranked"][0]["path"]
    assert report["ranked"][0]["criteria"]["pose"]["score"] > 0.9
    assert {Path(s["path"]).name for s in report["skipped"]} == {"junk.png"}
    assert sum(report["weights"].values()) == pytest.approx(1.0)
    by_name = {Path(e["path"]).name: e for e in report["ranked"]}
    assert by_name["blurred.jpg"]["main_flaw"] == "sharpness"

    with Image.open(sheet) as img:
        assert img.format == "PNG" and img.width >= 900 and img.height >= 700
    from headcast.face.landmarks import detect_faces

    framed = np.asarray(Image.open(best).convert("RGB"))
    assert framed.shape == (512, 512, 3)
    faces = detect_faces(framed)
    assert len(faces) == 1
    fx0, fy0, fx1, fy1 = faces[0].box
    assert abs((fx0 + fx1) / 2 - 256) < 30 and 150 < fy1 - fy0 < 240

    r = pick_reference(str(folder / "obama.jpg"), str(folder / "blurred.jpg"))
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    assert rows[0].split() == ["rank", "score", "photo", "reasons"]
    assert "obama.jpg" in rows[1] and rows[1].split()[0] == "1"
    assert "blurred.jpg" in rows[2] and "blurry face" in rows[2]


def test_cli_no_usable_face_exits_2(tmp_path):
    suit = np.asarray(Image.open(BASE).convert("RGB"))[600:1100, 100:800]  # a real photo, no face
    Image.fromarray(np.ascontiguousarray(suit)).save(tmp_path / "suit.jpg")
    (tmp_path / "notes.jpg").write_text("hello")
    r = pick_reference(str(tmp_path))
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("headcast: error:")]
    assert len(errors) == 1 and "no usable face" in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert "suit.jpg" in r.stdout and "no face found" in r.stdout
    assert "skipped: not an image" in r.stdout
