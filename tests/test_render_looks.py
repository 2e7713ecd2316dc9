"""What closed lips, closed lids and the inside of the mouth look like on real portraits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from headcast.face import prepare_avatar, regions
from headcast.motion import FaceMotion
from headcast.render import get_engine
from headcast.render.warp.engine import WarpSession
from headcast.render.warp.outlines import line_y
from headcast.render.warp.seams import LID_LINES, LIP_LINES, draw_seam

ROOT = Path(__file__).resolve().parent.parent
SMILING = [ROOT / "samples" / "astronaut.png", ROOT / "tests" / "media" / "obama.jpg"]
RIGHT_LIDS, LEFT_LIDS = LID_LINES


def _landmarks_now(session: WarpSession, motion: FaceMotion) -> np.ndarray:
    plan = session.warp_plan
    disp = session._vertex_displacement(session._offsets(motion), motion)
    return plan.vertices[: plan.n_landmarks, :2] + disp[: plan.n_landmarks]


def _along_meeting_line(
    frame: np.ndarray, landmarks: np.ndarray, upper: tuple[int, ...], lower: tuple[int, ...]
) -> np.ndarray:
    """Grey levels on the line halfway between two edges, over the middle 70 % of its span."""
    up, low = landmarks[list(upper)], landmarks[list(lower)]
    left, right = sorted([up[0, 0], up[-1, 0]])
    cols = np.arange(int(left + 0.15 * (right - left)), int(right - 0.15 * (right - left)))
    middle = (line_y(up, cols.astype(float)) + line_y(low, cols.astype(float))) / 2
    return frame.astype(np.float32).mean(axis=2)[np.round(middle).astype(int), cols]


@pytest.mark.parametrize("portrait", SMILING, ids=lambda p: p.stem)
def test_closed_lids_meet_in_an_even_lash_line(portrait: Path) -> None:
    avatar = prepare_avatar(portrait, 512)
    session = get_engine("warp").start(avatar)
    closed = FaceMotion(blink=1.0)
    frame = session.render(closed)
    landmarks = _landmarks_now(session, closed)
    for upper, lower in (RIGHT_LIDS, LEFT_LIDS):
        line = _along_meeting_line(frame, landmarks, upper, lower)
        # Squeezed whites and irises step from pixel to pixel by 8-33 grey levels; an even
        # lash line by a few.
        assert np.abs(np.diff(line)).mean() < 7.0
        # Darker than the skin of the cheeks.
        cheeks = landmarks[[50, 280]].round().astype(int)
        assert np.median(line) < 0.8 * frame[cheeks[:, 1], cheeks[:, 0]].mean()


@pytest.mark.parametrize("portrait", SMILING, ids=lambda p: p.stem)
def test_a_smile_brought_to_rest_shows_a_dark_seam_between_the_lips(portrait: Path) -> None:
    avatar = prepare_avatar(portrait, 512)
    session = get_engine("warp").start(avatar)
    rest = FaceMotion()
    frame = session.render(rest)
    landmarks = _landmarks_now(session, rest)
    seam = _along_meeting_line(frame, landmarks, *LIP_LINES)
    lip_rings = [i for ring in regions.UPPER_LIP_RINGS[:2] for i in ring]
    lips = frame[
        np.round(landmarks[lip_rings, 1]).astype(int), np.round(landmarks[lip_rings, 0]).astype(int)
    ].mean(axis=1)
    # The photo's teeth are gone from between the lips: the seam is darker than the lips.
    assert np.percentile(seam, 90) < np.median(lips)


def test_a_seam_fades_out_as_the_edges_part() -> None:
    frame = prepare_avatar(SMILING[0], 512).image
    xs = np.linspace(200.0, 300.0, 11)
    upper = np.stack([xs, np.full_like(xs, 250.0)], axis=1)
    dark = np.array([20.0, 10.0, 10.0], np.float32)
    touching = frame.copy()
    draw_seam(touching, upper, upper, dark, 1.0, 4.0, 0.9)
    changed = np.abs(touching.astype(int) - frame.astype(int)).max(axis=2) > 0
    rows, cols = np.nonzero(changed)
    assert rows.min() >= 248 and rows.max() <= 252  # a line about 2 px tall
    assert cols.min() >= 200 and cols.max() <= 300
    assert touching[250, 250].mean() < 0.5 * frame[250, 250].mean()
    # Anti-aliased: the rows beside the centre are blended, not painted solid.
    assert touching[250, 250].mean() < touching[251, 250].mean() < frame[251, 250].mean() + 1

    apart = frame.copy()
    draw_seam(apart, upper, upper + np.array([0.0, 6.0]), dark, 1.0, 4.0, 0.9)
    assert np.array_equal(apart, frame)


def test_a_grey_photo_gets_a_grey_mouth_interior(tmp_path: Path) -> None:
    grey = cv2.cvtColor(cv2.imread(str(SMILING[1])), cv2.COLOR_BGR2GRAY)
    path = tmp_path / "grey.png"
    cv2.imwrite(str(path), grey)
    avatar = prepare_avatar(path, 512)
    session = get_engine("warp").start(avatar)
    rest = session.render(FaceMotion()).astype(np.int16)
    frame = session.render(FaceMotion(jaw_open=0.8)).astype(np.int16)
    inside = np.abs(frame - rest).max(axis=2) > 30
    assert inside.sum() > 500  # the mouth did open
    colour = frame[inside]
    spread = colour.max(axis=1) - colour.min(axis=1)
    assert np.percentile(spread, 99) <= 3
