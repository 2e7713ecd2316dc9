"""Contact sheets for looking at renders beside real footage: labelled rows of tiles.

Each tile is the face cut out square around dlib's landmarks (so faces framed differently
line up), or the whole frame, letterboxed, where no face was found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from quality.judge import FaceMeasure

TILE_PX = 192
LABEL_WIDTH_PX = 150
HEADER_PX = 22
FACE_CROP_EYE_DISTANCES = 3.0  # side of a face tile, in eye-corner distances: brows to chin
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)


@dataclass(frozen=True)
class SheetRow:
    """One labelled row of RGB tiles (any size; each is fitted into a square tile)."""

    label: str
    tiles: Sequence[np.ndarray | None]  # None leaves the tile blank


def face_tile(
    frame_rgb: np.ndarray, measure: FaceMeasure | None, tile_px: int = TILE_PX
) -> np.ndarray:
    """The face cut out square around its landmarks (the whole frame without one)."""
    if measure is None:
        return fit_tile(frame_rgb, tile_px)
    points = measure.landmarks
    centre = (points[36:48].mean(axis=0) + points[48:68].mean(axis=0)) / 2.0
    half = FACE_CROP_EYE_DISTANCES * measure.inter_ocular / 2.0
    scale = tile_px / (2.0 * half)
    matrix = np.array(
        [
            [scale, 0.0, tile_px / 2.0 - scale * centre[0]],
            [0.0, scale, tile_px / 2.0 - scale * centre[1]],
        ]
    )
    return cv2.warpAffine(
        np.ascontiguousarray(frame_rgb),
        matrix,
        (tile_px, tile_px),
        flags=cv2.INTER_AREA,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=BACKGROUND,
    )


def fit_tile(image: np.ndarray, tile_px: int = TILE_PX) -> np.ndarray:
    """``image`` (RGB or grey) scaled into a square tile, letterboxed."""
    rgb = image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    height, width = rgb.shape[:2]
    scale = tile_px / max(height, width)
    size = (max(round(width * scale), 1), max(round(height * scale), 1))
    resized = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    tile = np.full((tile_px, tile_px, 3), BACKGROUND, dtype=np.uint8)
    y0, x0 = (tile_px - size[1]) // 2, (tile_px - size[0]) // 2
    tile[y0 : y0 + size[1], x0 : x0 + size[0]] = resized
    return tile


def compose_sheet(
    rows: Sequence[SheetRow],
    column_labels: Sequence[str] = (),
    title: str = "",
    tile_px: int = TILE_PX,
) -> np.ndarray:
    """The sheet as one RGB image: a title line, column labels, then the labelled rows."""
    columns = max([len(row.tiles) for row in rows] + [len(column_labels), 1])
    header = HEADER_PX * (bool(title) + bool(column_labels))
    sheet = np.full(
        (header + tile_px * len(rows), LABEL_WIDTH_PX + tile_px * columns, 3),
        BACKGROUND,
        dtype=np.uint8,
    )
    y = 0
    if title:
        _text(sheet, title, 6, y + 16)
        y += HEADER_PX
    if column_labels:
        for c, label in enumerate(column_labels):
            _text(sheet, label, LABEL_WIDTH_PX + c * tile_px + 6, y + 16)
        y += HEADER_PX
    for row in rows:
        for line, part in enumerate(row.label.split("\n")):
            _text(sheet, part, 6, y + 24 + 18 * line)
        for c, tile in enumerate(row.tiles):
            if tile is not None:
                x = LABEL_WIDTH_PX + c * tile_px
                sheet[y : y + tile_px, x : x + tile_px] = fit_tile(tile, tile_px)
        y += tile_px
    return sheet


def write_sheet(path: Path, sheet_rgb: np.ndarray) -> Path:
    """Write the sheet as a PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def _text(image: np.ndarray, text: str, x: int, y: int) -> None:
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.5, TEXT, 1, cv2.LINE_AA)
