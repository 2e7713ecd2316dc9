"""The warp engine on real portraits: rest, opening, blinks, stillness outside the head."""

from __future__ import annotations

import numpy as np
import pytest

from headcast.face import prepare_avatar
from headcast.motion import FaceMotion
from headcast.render import get_engine
from tests.conftest import MEDIA, SAMPLES

PORTRAITS = [
    SAMPLES / "astronaut.png",
    MEDIA / "obama.jpg",
    MEDIA / "biden.jpg",
    MEDIA / "obama2.jpg",
]


@pytest.fixture(scope="module", params=PORTRAITS, ids=lambda p: p.stem)
def session(request, tmp_path_factory):
    avatar = prepare_avatar(request.param, 512, cache_dir=tmp_path_factory.mktemp("cache"))
    return avatar, get_engine("warp").start(avatar)


def test_rest_closes_the_mouth(session, judge):
    _avatar, s = session
    frame = s.render(FaceMotion())
    m = judge.measure(frame)
    assert m is not None and m.lips_closed, m.aperture if m else None


def test_jaw_opens_the_mouth_in_proportion(session, judge):
    _, s = session
    apertures = []
    for jaw in (0.0, 0.3, 0.6, 0.9):
        m = judge.measure(s.render(FaceMotion(jaw_open=jaw)))
        apertures.append(m.aperture)
    assert apertures[0] < 0.04
    assert np.all(np.diff(apertures) > 0), apertures
    assert apertures[-1] > 0.15


def test_blink_closes_the_eyes(session, judge):
    _, s = session
    open_ear = judge.measure(s.render(FaceMotion())).ear
    closed_ear = judge.measure(s.render(FaceMotion(blink=1.0))).ear
    assert closed_ear < 0.75 * open_ear, (open_ear, closed_ear)


def test_outside_the_head_never_changes_without_head_motion(session):
    avatar, s = session
    x0, y0, x1, y1 = avatar.mesh.region
    outside = np.ones(avatar.image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    for motion in (FaceMotion(jaw_open=0.8), FaceMotion(blink=1.0, mouth_stretch=1.0)):
        frame = s.render(motion)
        assert np.array_equal(frame[outside], avatar.image[outside])


def test_head_turn_moves_the_face_but_not_the_corners(session, judge):
    avatar, s = session
    still = judge.measure(s.render(FaceMotion()))
    turned_frame = s.render(FaceMotion(head_yaw_deg=6.0, head_roll_deg=3.0))
    turned = judge.measure(turned_frame)
    shift = np.linalg.norm(turned.landmarks - still.landmarks, axis=1).mean()
    assert shift > 2.0
    corner = (slice(0, 16), slice(0, 16))
    assert np.array_equal(turned_frame[corner], avatar.image[corner])


def test_identity_kept_while_speaking(session, judge):
    avatar, s = session
    ref = judge.measure(avatar.image)
    ref_emb = judge.embedding(avatar.image, ref)
    frame = s.render(FaceMotion(jaw_open=0.5, blink=0.5, head_yaw_deg=3.0))
    emb = judge.embedding(frame, judge.measure(frame))
    assert judge.identity_distance(ref_emb, emb) < 0.4
