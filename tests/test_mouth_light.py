"""The inside of the mouth is lit like the photo: drawn teeth are never colder than the photo's
own eye whites, nor lit brighter than them; a photo's own teeth are kept. Judged with dlib's
landmarks (quality/mouth_light), not the renderer's own mesh."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from headcast.face import prepare_avatar, regions
from headcast.motion import FaceMotion
from headcast.render import get_engine
from headcast.render.warp.sclera import sample_eye_whites
from quality.mouth_light import INNER_LIPS, TEETH_TOP_SHARE, MouthLight, inside, mouth_light, to_lab
from tests.conftest import MEDIA, SAMPLES

# A real talking-head frame with the lips closed (GRID s1): every tooth on screen is drawn.
GRID = MEDIA / "grid-s1.mp4"
# An aged varnish passes red, dims green a little and blue a lot; a dim warm room dims all.
YELLOW_VARNISH = (1.0, 0.88, 0.55)
DIM_WARM_ROOM = (0.42, 0.36, 0.26)
MAX_B_GAP_BELOW_WHITES = 10.0  # CIE b*: teeth at most this much bluer than the eye whites
# CIE L*: drawn teeth at most this much lighter than the whites' lit part. The renderer caps
# them at 1.1x its luma (~+4 L* at these lightnesses); a white drawn regardless of the
# photo's light reads +9 on the dim room.
MAX_L_ABOVE_LIT_WHITES = 5.0
JAW_OPENINGS = (0.5, 0.7, 0.9)


def _grid_frame() -> np.ndarray:
    capture = cv2.VideoCapture(str(GRID))
    ok, frame = capture.read()
    capture.release()
    assert ok
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def _photo(name: str) -> np.ndarray:
    path = SAMPLES / name if name == "astronaut.png" else MEDIA / name
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _lit(rgb: np.ndarray, gain: tuple[float, float, float]) -> np.ndarray:
    return np.clip(rgb.astype(np.float32) * np.array(gain, np.float32), 0, 255).astype(np.uint8)


PHOTOS = {
    "grid": lambda: _grid_frame(),
    "grid-varnished": lambda: _lit(_grid_frame(), YELLOW_VARNISH),
    "grid-dim-room": lambda: _lit(_grid_frame(), DIM_WARM_ROOM),
    "biden": lambda: _photo("biden.jpg"),  # eyes too narrow to show their whites
    "astronaut-varnished": lambda: _lit(_photo("astronaut.png"), YELLOW_VARNISH),  # own teeth
}


def _open_mouth(photo: np.ndarray, judge) -> tuple[MouthLight, np.ndarray, list[np.ndarray]]:
    avatar = prepare_avatar(photo, 512, use_cache=False)
    session = get_engine("warp").start(avatar)
    frames = [session.render(FaceMotion(jaw_open=j)) for j in JAW_OPENINGS]
    light = mouth_light(avatar.image, frames, [judge.measure(f) for f in frames])
    assert light.open_frames == len(frames)  # the judge sees every one of them open
    return light, avatar.image, frames


@pytest.mark.parametrize("name", list(PHOTOS))
def test_teeth_are_no_bluer_than_the_photos_eye_whites(name: str, judge) -> None:
    light, _, _ = _open_mouth(PHOTOS[name](), judge)
    assert light.b_gap is not None
    # Drawn as a fixed cold white, they read 25 below on the varnished frame.
    assert light.b_gap >= -MAX_B_GAP_BELOW_WHITES, light


@pytest.mark.parametrize("name", ["grid", "grid-varnished", "grid-dim-room"])
def test_drawn_teeth_are_lit_no_brighter_than_the_eye_whites(name: str, judge) -> None:
    light, _, _ = _open_mouth(PHOTOS[name](), judge)
    assert light.teeth_lab is not None and light.sclera_lit_l is not None
    assert light.teeth_lab[0] <= light.sclera_lit_l + MAX_L_ABOVE_LIT_WHITES, light
    # Still teeth: lighter than the eye whites' typical pixel, not a grey smear.
    assert light.sclera_lab is not None
    assert light.teeth_lab[0] > light.sclera_lab[0]


def test_a_photo_showing_its_teeth_keeps_them(judge) -> None:
    photo = _photo("astronaut.png")
    _, portrait, frames = _open_mouth(photo, judge)
    measure = judge.measure(portrait)
    assert measure is not None
    own = to_lab(inside(portrait, measure.landmarks[list(INNER_LIPS)]))
    own_teeth = np.median(own[own[:, 0] >= np.quantile(own[:, 0], 1 - TEETH_TOP_SHARE)], axis=0)
    for frame in frames:
        m = judge.measure(frame)
        assert m is not None
        drawn = to_lab(inside(frame, m.landmarks[list(INNER_LIPS)]))
        teeth = np.median(
            drawn[drawn[:, 0] >= np.quantile(drawn[:, 0], 1 - TEETH_TOP_SHARE)], axis=0
        )
        # The photo's own teeth, resampled and softened by the warp (they read 4.9 from
        # themselves), not drawn ones (the drawn colour there, L* 82 a* 5 b* 8, reads 17).
        assert np.linalg.norm(teeth - own_teeth) < 8.0, (teeth, own_teeth)


def test_glare_over_the_eyes_leaves_no_whites_to_read() -> None:
    avatar = prepare_avatar(_grid_frame(), 512, use_cache=False)
    assert sample_eye_whites(avatar.image, avatar.landmarks) is not None
    glare = avatar.image.copy()
    for loop in (regions.RIGHT_EYE_LOOP, regions.LEFT_EYE_LOOP):
        points = regions.loop_points(avatar.landmarks, loop)
        cv2.fillPoly(glare, [np.round(points).astype(np.int32)], (255, 255, 255))
    assert sample_eye_whites(glare, avatar.landmarks) is None
