"""Regenerate docs/contact_sheet.png: every portrait in every mouth shape, a blink, brows,
gaze, head turns, and the photo's gaze re-aimed at the camera (before / after). The last row
is the first portrait turned grey, as a black-and-white photo would be.

Run: `.venv/bin/python scripts/make_contact_sheet.py`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PORTRAITS = [
    ROOT / "samples" / "astronaut.png",
    ROOT / "tests" / "media" / "obama.jpg",
    ROOT / "tests" / "media" / "biden.jpg",
    ROOT / "tests" / "media" / "obama2.jpg",
]
TILE_PX = 200


def portraits() -> list[str | bytes]:
    grey = cv2.cvtColor(cv2.imread(str(PORTRAITS[0])), cv2.COLOR_BGR2GRAY)
    return [str(p) for p in PORTRAITS] + [cv2.imencode(".png", grey)[1].tobytes()]


def poses():
    from headcast.motion import FaceMotion
    from headcast.motion.visemes import target_for

    def shape(label: str) -> FaceMotion:
        t = target_for(label)
        return FaceMotion(**{name: getattr(t, name) for name in t.__dataclass_fields__})

    return [
        ("photo", None),
        ("rest", FaceMotion()),
        ("A: M B P", shape("M")),
        ("B: K S T", shape("T")),
        ("C: EH AE", shape("AE")),
        ("D: AA", shape("AA")),
        ("E: AO ER", shape("AO")),
        ("F: UW W", shape("UW")),
        ("G: F V", shape("F")),
        ("H: L", shape("L")),
        ("blink", FaceMotion(blink=1.0)),
        ("brows", FaceMotion(brow_raise=1.0)),
        ("turn", FaceMotion(head_yaw_deg=6.0, head_pitch_deg=-2.0)),
        ("tilt", FaceMotion(head_roll_deg=5.0, jaw_open=0.3)),
        ("look left", FaceMotion(gaze_x=-0.6)),
        ("look right", FaceMotion(gaze_x=0.6)),
        ("look down", FaceMotion(gaze_y=0.8)),
        ("gaze corrected", "corrected"),
    ]


def main() -> None:
    from headcast.face import prepare_avatar
    from headcast.motion import FaceMotion
    from headcast.render import get_engine

    rows = []
    for portrait in portraits():
        avatar = prepare_avatar(portrait, 512)
        session = get_engine("warp").start(avatar)
        corrected = get_engine("warp").start(avatar.aimed_at_camera())
        lm = avatar.landmarks[:, :2]
        (x0, y0), (x1, y1) = lm.min(0), lm.max(0)
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.62 * max(x1 - x0, y1 - y0)
        box = [int(max(cy - half, 0)), int(cy + half), int(max(cx - half, 0)), int(cx + half)]
        tiles = []
        for label, motion in poses():
            if motion is None:
                frame = avatar.image
            elif motion == "corrected":
                frame = corrected.render(FaceMotion())
            else:
                frame = session.render(motion)
            tile = cv2.resize(
                frame[box[0] : box[1], box[2] : box[3]],
                (TILE_PX, TILE_PX),
                interpolation=cv2.INTER_AREA,
            )
            cv2.rectangle(tile, (0, 0), (TILE_PX, 20), (0, 0, 0), -1)
            cv2.putText(
                tile,
                label,
                (5, 14),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.45,
                (255, 255, 255),
                1,
                cv2.LINE_AA,
            )
            tiles.append(tile)
        rows.append(np.hstack(tiles))
    sheet = np.vstack(rows)
    target = ROOT / "docs" / "contact_sheet.png"
    cv2.imwrite(str(target), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
