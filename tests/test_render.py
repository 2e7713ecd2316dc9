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


RIGHT_EYE_DLIB = slice(36, 42)


def _iris_x(frame: np.ndarray, eye: np.ndarray) -> float:
    """Horizontal place of the iris inside the eye outline (0 = one corner, 1 = the other),
    as the centroid of the outline's darkest pixels."""
    import cv2

    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(eye).astype(np.int32)], 1)
    ys, xs = np.nonzero(mask)
    light = frame[ys, xs].astype(np.float32).mean(axis=1)
    dark = light <= np.percentile(light, 25)
    left, right = eye[:, 0].min(), eye[:, 0].max()
    return float((xs[dark].mean() - left) / (right - left))


def test_gaze_moves_the_irises_inside_the_eyes_only(session, judge):
    import cv2

    from headcast.render.warp.eyes import EYES

    avatar, s = session
    rest = s.render(FaceMotion())
    eye = judge.measure(rest).landmarks[RIGHT_EYE_DLIB]
    frames = {g: s.render(FaceMotion(gaze_x=g)) for g in (-0.8, 0.8)}
    xs = {g: _iris_x(f, eye) for g, f in frames.items()}
    assert xs[0.8] - xs[-0.8] > 0.12, xs
    openings = np.zeros(rest.shape[:2], np.uint8)
    for loop, _ in EYES:
        cv2.fillPoly(openings, [np.round(avatar.landmarks[list(loop), :2]).astype(np.int32)], 1)
    openings = cv2.dilate(openings, np.ones((5, 5), np.uint8)) > 0
    for frame in frames.values():
        changed = np.abs(frame.astype(int) - rest.astype(int)).max(axis=2) > 0
        assert changed[openings].any()
        assert not changed[~openings].any()


def test_gaze_correction_re_aims_a_photo_that_looks_away(judge, tmp_path):
    import cv2

    looking = prepare_avatar(MEDIA / "obama.jpg", 512, cache_dir=tmp_path)
    straight = judge.measure(looking.image)
    eye = straight.landmarks[RIGHT_EYE_DLIB]
    centred = _iris_x(looking.image, eye)
    away_path = tmp_path / "away.png"
    away = get_engine("warp").start(looking).render(FaceMotion(gaze_x=0.8))
    cv2.imwrite(str(away_path), cv2.cvtColor(away, cv2.COLOR_RGB2BGR))

    photo = prepare_avatar(away_path, 512, cache_dir=tmp_path)
    before = get_engine("warp").start(photo).render(FaceMotion())
    after = get_engine("warp").start(photo.aimed_at_camera()).render(FaceMotion())
    off_before = abs(_iris_x(before, eye) - centred)
    off_after = abs(_iris_x(after, eye) - centred)
    assert off_before > 0.08, off_before
    assert off_after < 0.5 * off_before, (off_before, off_after)


def test_a_turning_head_leaves_the_background_still(judge, tmp_path):
    avatar = prepare_avatar(MEDIA / "obama.jpg", 512, cache_dir=tmp_path)
    s = get_engine("warp").start(avatar)
    frame = s.render(FaceMotion(head_yaw_deg=7.0, head_roll_deg=4.0))
    changed = np.abs(frame.astype(int) - avatar.image.astype(int)).max(axis=2) > 12
    face = judge.measure(avatar.image)
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    # Head and hair: the face box grown up and to the sides; below it the shoulders.
    head = np.zeros_like(changed)
    head[max(0, int(y0 - 0.7 * h)) :, max(0, int(x0 - 0.45 * w)) : int(x1 + 0.45 * w)] = True
    upper = np.zeros_like(changed)
    upper[: int(y1), :] = True
    background = upper & ~head
    assert changed[head].mean() > 0.05
    assert changed[background].mean() < 0.005, changed[background].mean()


def _variant(name: str) -> np.ndarray:
    import cv2

    photo = cv2.cvtColor(cv2.imread(str(MEDIA / "obama.jpg")), cv2.COLOR_BGR2RGB)
    h, w = photo.shape[:2]
    if name == "grayscale":
        return np.repeat(cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)[:, :, None], 3, axis=2)
    if name == "wide, off-centre":
        canvas = np.full((h, 3 * w, 3), 90, np.uint8)
        canvas[:, 2 * w :] = photo
        return canvas
    if name == "small face":
        return cv2.resize(photo, (w // 3, h // 3), interpolation=cv2.INTER_AREA)
    if name == "very large":
        return cv2.resize(photo, (int(w * 2.6), int(h * 2.6)), interpolation=cv2.INTER_CUBIC)
    if name == "painting":
        return cv2.stylization(photo, sigma_s=40, sigma_r=0.35)
    raise ValueError(name)


@pytest.mark.parametrize(
    "variant", ["grayscale", "wide, off-centre", "small face", "very large", "painting"]
)
def test_any_reasonable_portrait_speaks(variant, judge, tmp_path):
    import cv2

    path = tmp_path / "portrait.png"
    cv2.imwrite(str(path), cv2.cvtColor(_variant(variant), cv2.COLOR_RGB2BGR))
    avatar = prepare_avatar(path, 512, cache_dir=tmp_path)
    s = get_engine("warp").start(avatar)
    rest = judge.measure(s.render(FaceMotion()))
    open_ = judge.measure(s.render(FaceMotion(jaw_open=0.6)))
    assert rest is not None and open_ is not None
    assert open_.aperture > 0.1, open_.aperture
    assert rest.aperture < 0.5 * open_.aperture, (rest.aperture, open_.aperture)
    if variant != "painting":  # the judge reads a painting's brush strokes as a parted lip
        assert rest.lips_closed, rest.aperture
    photo = judge.measure(avatar.image)
    same = judge.identity_distance(
        judge.embedding(avatar.image, photo), judge.embedding(s.render(FaceMotion()), rest)
    )
    assert same < 0.45, same


def test_smooth_map_undoes_a_uniform_shift(session):
    _, s = session
    field = s.warp_plan.field
    shift = np.array([1.75, -0.5])
    source_map = field.backward_map(np.tile(shift, (len(s.warp_plan.vertices), 1)))
    x0, y0, x1, y1 = field.region
    expected = np.dstack(np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))) - shift
    assert source_map.shape == (y1 - y0, x1 - x0, 2)
    assert np.abs(source_map - expected).max() < 1e-3


def test_frames_already_returned_stay_as_they_were(session):
    _, s = session
    speaking = FaceMotion(jaw_open=0.6, blink=0.8, gaze_x=0.5, head_yaw_deg=3.0)
    first = s.render(speaking)
    kept = first.copy()
    s.render(FaceMotion(lip_pucker=1.0, head_pitch_deg=-3.0))
    np.testing.assert_array_equal(first, kept)
    np.testing.assert_array_equal(s.render(speaking), kept)


def test_exact_map_inverts_an_affine_motion_of_the_mesh(session):
    from headcast.render.warp.field import exact_backward_map

    _, s = session
    plan = s.warp_plan
    detail = plan.details[0]  # the mouth
    source_xy = plan.vertices[:, :2]
    turn = np.array([[0.98, -0.12], [0.1, 1.03]])
    centre = source_xy[detail.triangles].reshape(-1, 2).mean(0)
    moved_xy = (source_xy - centre) @ turn.T + centre + [0.6, 1.3]
    bx0, by0, bx1, by1 = detail.box
    out = np.full((by1 - by0, bx1 - bx0, 2), -1.0, np.float32)
    exact_backward_map(detail, moved_xy, out)
    covered = out[:, :, 0] >= 0
    assert covered.mean() > 0.2
    ys, xs = np.nonzero(covered)
    pixels = np.stack([xs + bx0, ys + by0], 1)
    expected = (pixels - centre - [0.6, 1.3]) @ np.linalg.inv(turn).T + centre
    assert np.abs(out[covered] - expected).max() < 0.02


def test_head_turn_composite_matches_a_float_blend(session):
    import cv2

    from headcast.render.warp.engine import _over_plate, _premultiplied

    _, s = session
    plate = s.warp_plan.plate
    h, w = plate.shape[:2]
    rgba = cv2.resize(s.warp_plan.image_rgba, (w, h))
    rgba[:, :, 3] = np.linspace(0, 255, w).round().astype(np.uint8)  # every mask level
    out = np.zeros_like(plate)
    _over_plate(_premultiplied(rgba), plate, out)
    alpha = rgba[:, :, 3:].astype(np.float64) / 255
    expected = rgba[:, :, :3] * alpha + plate * (1 - alpha)
    assert np.abs(out - expected).max() <= 1.0


@pytest.mark.parametrize("portrait", [MEDIA / "biden.jpg", SAMPLES / "astronaut.png"])
def test_tongue_tip_rises_inside_the_open_mouth(portrait, tmp_path):
    avatar = prepare_avatar(portrait, 512, cache_dir=tmp_path)
    s = get_engine("warp").start(avatar)
    down = s.render(FaceMotion(jaw_open=0.9)).astype(int)
    up = s.render(FaceMotion(jaw_open=0.9, tongue_tip=1.0)).astype(int)
    changed = np.abs(up - down).max(axis=2) > 8
    ys, xs = np.nonzero(changed)
    lm = avatar.landmarks
    mouth_width = float(np.linalg.norm(lm[61, :2] - lm[291, :2]))
    assert changed.sum() > 100
    # Only inside the mouth, and lighter: the tongue fills what was the dark of the cavity.
    assert np.hypot(xs - lm[13, 0], ys - lm[13, 1]).max() < 0.5 * mouth_width
    assert (up - down)[changed].mean() > 5


def test_a_smile_does_not_make_the_mouth_move_further(tmp_path):
    """Lip and jaw travel scale with the face, not with how wide a smile stretches the mouth."""
    from headcast.face import regions

    def travel_per_eye_distance(photo) -> dict[str, float]:
        avatar = prepare_avatar(photo, 512, cache_dir=tmp_path)
        plan = get_engine("warp").start(avatar).warp_plan
        iod = regions.inter_ocular_px(avatar.landmarks)
        n = plan.n_landmarks
        return {
            name: float(np.linalg.norm(plan.bases[name][:n], axis=1).max()) / iod
            for name in ("jaw_open", "lip_pucker", "mouth_stretch")
        }

    smiling = travel_per_eye_distance(MEDIA / "obama.jpg")  # mouth 0.81 eye distances wide
    neutral = travel_per_eye_distance(MEDIA / "biden.jpg")  # 0.61
    for name in smiling:
        assert smiling[name] / neutral[name] == pytest.approx(1.0, abs=0.1), (
            name,
            smiling,
            neutral,
        )
