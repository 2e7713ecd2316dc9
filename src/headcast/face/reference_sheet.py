"""Pictures of a ranking: a contact sheet of the candidates, and the winner framed for rendering."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from headcast.errors import InputError
from headcast.face.framing import crop_framed, frame_face
from headcast.face.image_io import load_image
from headcast.face.landmarks import FaceLandmarks, detect_faces
from headcast.face.reference_score import ReferenceScore, SkippedPhoto, load_reduced

SHEET_CELL_PX = 240  # thumbnail side on the contact sheet
SHEET_COLUMNS = 4
SHEET_CAPTION_PX = 58  # text under each thumbnail
SHEET_GAP_PX = 10
SHEET_TITLE_PX = 34
THUMB_DECODE_LONG_SIDE_PX = 800  # photos are decoded at least this large for thumbnails
GOOD_SCORE, FAIR_SCORE = 0.8, 0.65  # green at or above GOOD, amber at or above FAIR, else red
_GREEN, _AMBER, _RED, _GREY = (46, 160, 67), (222, 150, 20), (214, 40, 40), (120, 120, 120)
_BACKGROUND, _INK = (250, 250, 247), (30, 30, 30)

_Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
_Colour = tuple[int, int, int]


def _font(size_px: int) -> _Font:
    try:
        return ImageFont.load_default(size=size_px)
    except (OSError, ImportError, TypeError):  # Pillow built without FreeType
        return ImageFont.load_default()


def _score_colour(score: float) -> _Colour:
    return _GREEN if score >= GOOD_SCORE else _AMBER if score >= FAIR_SCORE else _RED


def _thumbnail(result: ReferenceScore) -> tuple[Image.Image, tuple[float, ...] | None]:
    """The photo framed the way the renderer would frame it, and the flaw box on that square."""
    width, height = result.image_size
    long_side = THUMB_DECODE_LONG_SIDE_PX
    if result.face_box is not None:
        face_h = result.face_box[3] - result.face_box[1]
        crop_side = min(2.6 * face_h, width, height)
        long_side = max(long_side, round(SHEET_CELL_PX * max(width, height) / crop_side))
    rgb, scale, _size = load_reduced(result.path, long_side_px=long_side)
    if result.face_box is None:
        img = Image.fromarray(rgb)
        img.thumbnail((SHEET_CELL_PX, SHEET_CELL_PX))
        square = Image.new("RGB", (SHEET_CELL_PX, SHEET_CELL_PX), _BACKGROUND)
        square.paste(img, ((SHEET_CELL_PX - img.width) // 2, (SHEET_CELL_PX - img.height) // 2))
        return square, None
    corners = np.array(result.face_box, np.float32).reshape(2, 2) / scale
    face = FaceLandmarks(np.hstack([corners, np.zeros((2, 1), np.float32)]))
    framing = frame_face(rgb.shape, face, SHEET_CELL_PX)
    thumb = Image.fromarray(crop_framed(rgb, framing, SHEET_CELL_PX))
    flaw = None
    if result.flaw_box is not None:
        box = np.array(result.flaw_box, np.float32).reshape(2, 2) / scale
        flaw = tuple(framing.to_output(box).ravel().tolist())
    return thumb, flaw


def draw_contact_sheet(
    ranked: Sequence[ReferenceScore],
    skipped: Sequence[SkippedPhoto] = (),
    *,
    title: str | None = None,
) -> np.ndarray:
    """Each photo's thumbnail with its rank, score and main flaw marked; skipped files greyed."""
    n = len(ranked) + len(skipped)
    columns = max(1, min(SHEET_COLUMNS, n))
    rows = max(1, -(-n // columns))
    cell_h = SHEET_CELL_PX + SHEET_CAPTION_PX
    sheet = Image.new(
        "RGB",
        (
            columns * (SHEET_CELL_PX + SHEET_GAP_PX) + SHEET_GAP_PX,
            SHEET_TITLE_PX + rows * (cell_h + SHEET_GAP_PX) + SHEET_GAP_PX,
        ),
        _BACKGROUND,
    )
    draw = ImageDraw.Draw(sheet)
    big, small = _font(15), _font(12)
    heading = title or f"headcast pick-reference: {len(ranked)} photos ranked"
    if skipped:
        heading += f", {len(skipped)} skipped"
    draw.text((SHEET_GAP_PX, 9), heading, fill=_INK, font=_font(17))
    items: list[ReferenceScore | SkippedPhoto] = [*ranked, *skipped]
    for i, item in enumerate(items):
        x = SHEET_GAP_PX + (i % columns) * (SHEET_CELL_PX + SHEET_GAP_PX)
        y = SHEET_TITLE_PX + SHEET_GAP_PX + (i // columns) * (cell_h + SHEET_GAP_PX)
        name = Path(item.path).name
        if isinstance(item, SkippedPhoto):
            draw.rectangle((x, y, x + SHEET_CELL_PX - 1, y + SHEET_CELL_PX - 1), fill=(225,) * 3)
            draw.text((x + 8, y + 8), "skipped", fill=_GREY, font=big)
            _caption(draw, x, y + SHEET_CELL_PX + 4, [(name, _INK), (item.reason, _GREY)], small)
            continue
        try:
            thumb, flaw = _thumbnail(item)
        except InputError:
            thumb, flaw = Image.new("RGB", (SHEET_CELL_PX, SHEET_CELL_PX), (225,) * 3), None
        sheet.paste(thumb, (x, y))
        colour = _score_colour(item.score)
        draw.rectangle(
            (x - 3, y - 3, x + SHEET_CELL_PX + 2, y + SHEET_CELL_PX + 2), outline=colour, width=3
        )
        main = item.main_flaw
        if flaw is not None and main is not None:
            _mark_flaw(draw, x, y, flaw, main.name, small)
        badge = f"#{item.rank}  {item.score:.2f}"
        draw.rectangle((x, y, x + 8 + draw.textlength(badge, font=big), y + 21), fill=colour)
        draw.text((x + 4, y + 2), badge, fill=(255, 255, 255), font=big)
        flaw_text = main.reason.split(" (")[0] if main else "no notable flaw"
        _caption(draw, x, y + SHEET_CELL_PX + 4, [(name, _INK), (flaw_text, colour)], small)
    return np.asarray(sheet)


def _mark_flaw(
    draw: ImageDraw.ImageDraw,
    x: int,
    y: int,
    box: tuple[float, ...],
    label: str,
    font: _Font,
) -> None:
    """A red box (clipped to the thumbnail) around the flawed region, with the criterion name."""
    x0, y0, x1, y1 = (float(np.clip(v, 1, SHEET_CELL_PX - 2)) for v in box)
    draw.rectangle((x + x0, y + y0, x + x1, y + y1), outline=_RED, width=2)
    width = draw.textlength(label, font=font) + 6
    ly = y0 - 16 if y0 >= 40 else y1 + 1 if y1 + 17 < SHEET_CELL_PX else y0 + 2
    lx = min(x0, SHEET_CELL_PX - width)
    draw.rectangle((x + lx, y + ly, x + lx + width, y + ly + 15), fill=_RED)
    draw.text((x + lx + 3, y + ly + 1), label, fill=(255, 255, 255), font=font)


def _caption(
    draw: ImageDraw.ImageDraw, x: int, y: int, lines: Sequence[tuple[str, _Colour]], font: _Font
) -> None:
    for text, colour in lines:
        while text and draw.textlength(text, font=font) > SHEET_CELL_PX:
            text = text[:-2] + "…"
        draw.text((x, y), text, fill=colour, font=font)
        y += 17


def write_png(image_rgb: np.ndarray, out_path: str | Path) -> Path:
    """Write ``image_rgb`` atomically; the format follows the suffix (PNG, JPEG or WebP)."""
    out = Path(out_path)
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
    fmt = formats.get(out.suffix.lower())
    if fmt is None:
        raise InputError(f"{out}: the output must end in .png, .jpg or .webp")
    if not out.parent.is_dir():
        raise InputError(f"{out}: the folder {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        Image.fromarray(image_rgb).save(tmp, format=fmt)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from exc
    return out


def framed_reference(result: ReferenceScore, size_px: int = 512) -> np.ndarray:
    """The photo cropped and framed the way the renderer frames it (``frame_face``)."""
    image = load_image(result.path)
    faces = detect_faces(image)
    if faces:
        face = faces[0]
    elif result.face_box is not None:  # detection is not always repeatable at a new scale
        k = image.shape[1] / result.image_size[0]
        corners = np.array(result.face_box, np.float32).reshape(2, 2) * k
        face = FaceLandmarks(np.hstack([corners, np.zeros((2, 1), np.float32)]))
    else:
        raise InputError(f"{result.path}: no face found in the image")
    return crop_framed(image, frame_face(image.shape, face, size_px), size_px)
