"""The mouth interior: a shaded oral cavity with teeth, drawn where the lips part beyond the photo.

Where the photo itself shows an open mouth, its own interior (teeth) is carried along by the
warp and kept; the synthetic cavity only fills what the photo cannot supply.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
from numpy.typing import NDArray

from headcast.face import regions
from headcast.render.warp import tunables as T
from headcast.render.warp.outlines import extent, line_y, polygon_coverage, unit
from headcast.render.warp.sclera import LUMA_WEIGHTS, EyeWhites, sample_eye_whites

MOUTH_BOX_MARGIN_PX = 4
_UPPER_INNER_LINE = list(regions.UPPER_LIP_INNER_LINE)
_LOWER_INNER_LINE = list(regions.LOWER_LIP_INNER_LINE)
# Where the five tooth gaps nearest the middle sit across the arch, as shares of its half width.
_TOOTH_ARC_SINES = np.sin(np.arange(-2, 3) * T.TOOTH_ARC_RAD)
TYPICAL_LIP_RGB = (150, 90, 90)  # where the photo shows no lips to sample


@dataclass(frozen=True)
class MouthLook:
    """Colours sampled from the photo once per avatar, so the interior matches its lighting."""

    cavity_rgb: np.ndarray  # (3,) float32
    teeth_rgb: np.ndarray
    source_open_mask: np.ndarray  # (H, W) float32: 1 where the photo shows the inside of the mouth
    source_is_open: bool  # whether the photo shows any of the inside of the mouth
    mouth_width_px: float
    source_image: np.ndarray  # the photo, for its own teeth
    source_upper_lip: np.ndarray  # (11, 2) inner upper lip, corner to corner, in the photo
    palette: np.ndarray  # (3, 3) float32 columns: cavity, tongue, teeth colour

    @classmethod
    def sample(cls, image: np.ndarray, landmarks: np.ndarray) -> MouthLook:
        h, w = image.shape[:2]
        inner = regions.loop_points(landmarks, regions.INNER_LIP_LOOP)
        opening = np.zeros((h, w), np.uint8)
        cv2.fillPoly(opening, [np.round(inner).astype(np.int32)], (1,))
        lip_rgb = lip_colour(image, landmarks)
        cheek_rgb = _cheek_colour(image, landmarks)
        brightness = float(np.clip(cheek_rgb.mean() / 170.0, 0.45, 1.15))
        # A grey or faded photo gets an equally grey or faded inside of the mouth.
        colourfulness = min(_chroma(lip_rgb) / T.TYPICAL_LIP_CHROMA, 1.0)
        whites = sample_eye_whites(image, landmarks)
        if whites is not None and not _plausible_whites(whites, cheek_rgb):
            whites = None
        # The colour that white takes under the photo's light: its eye whites (a yellowed
        # varnish makes them yellow), or, where they cannot be read, neutral.
        light = np.ones(3, np.float32) if whites is None else _light_colour(whites.rgb)
        teeth_base = np.array(T.TEETH_RGB, np.float32) * brightness * T.TEETH_BRIGHTNESS_TO_SKIN
        if whites is None:
            # A little of the skin's tint, as the same light falls on both.
            teeth = 0.85 * teeth_base + 0.15 * cheek_rgb * (
                teeth_base.mean() / max(cheek_rgb.mean(), 1.0)
            )
            teeth_rgb = _with_colourfulness(teeth, colourfulness)
        else:
            # Enamel under the light the whites are under, hardly lighter than their lit part.
            luma = min(
                float(np.dot(teeth_base, LUMA_WEIGHTS)),
                T.TEETH_MAX_LUMA_TO_WHITES * whites.lit_luma,
            )
            tint = _with_colourfulness(np.array(T.ENAMEL_RGB, np.float32), colourfulness) * light
            teeth_rgb = np.clip(tint * (luma / max(float(np.dot(tint, LUMA_WEIGHTS)), 1.0)), 0, 255)
            teeth_rgb = teeth_rgb.astype(np.float32)
        source_open = _smooth_mask(opening.astype(np.float32), 0.8)
        gap = _max_gap(landmarks)
        if gap < 2.0:
            source_open[:] = 0.0  # a closed mouth has no interior to reuse
        width = float(np.linalg.norm(landmarks[61, :2] - landmarks[291, :2]))
        # The lips already carry the photo's light; the red-brown of the inside takes it on.
        cavity = (
            (0.3 * lip_rgb + 0.7 * np.array(T.CAVITY_BASE_RGB) * light * brightness)
            * T.CAVITY_DARKNESS
            * 1.6
        )
        cavity_rgb = _with_colourfulness(cavity, colourfulness)
        palette = np.stack([cavity_rgb, cavity_rgb * T.TONGUE_TO_CAVITY, teeth_rgb], 1)
        return cls(
            cavity_rgb=cavity_rgb,
            teeth_rgb=teeth_rgb,
            source_open_mask=source_open,
            source_is_open=bool(source_open.any()),
            mouth_width_px=width,
            source_image=image,
            source_upper_lip=landmarks[_UPPER_INNER_LINE, :2].astype(np.float32),
            palette=palette.astype(np.float32),
        )


def lip_colour(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The lips' median colour (float32 RGB): inside their outer outline, outside the opening."""
    h, w = image.shape[:2]
    outer = regions.loop_points(landmarks, regions.OUTER_LIP_LOOP)
    inner = regions.loop_points(landmarks, regions.INNER_LIP_LOOP)
    x0, y0 = np.clip(np.floor(outer.min(0)).astype(int), 0, [w, h])
    x1, y1 = np.clip(np.ceil(outer.max(0)).astype(int) + 1, 0, [w, h])
    if x1 <= x0 or y1 <= y0:
        return np.array(TYPICAL_LIP_RGB, np.float32)
    lips = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(lips, [np.round(outer - [x0, y0]).astype(np.int32)], (1,))
    cv2.fillPoly(lips, [np.round(inner - [x0, y0]).astype(np.int32)], (0,))
    pixels = image[y0:y1, x0:x1][lips > 0]
    if not len(pixels):
        return np.array(TYPICAL_LIP_RGB, np.float32)
    return np.median(pixels, axis=0).astype(np.float32)


def _plausible_whites(whites: EyeWhites, cheek_rgb: np.ndarray) -> bool:
    """Whether what was read as the eye whites is white: an eye's white is lighter and less
    colourful than the cheeks under the same light. Lid skin, lashes' shadow or an iris that
    fills the opening read darker, or as colourful as skin."""
    cheek_luma = max(float(np.dot(cheek_rgb, LUMA_WEIGHTS)), 1.0)
    return (
        whites.lit_luma >= T.WHITES_MIN_LUMA_TO_CHEEK * cheek_luma
        and _chroma(whites.rgb) <= _chroma(cheek_rgb) + T.WHITES_CHROMA_OVER_CHEEK_MAX
    )


def _light_colour(white_rgb: np.ndarray) -> np.ndarray:
    """The light's colour as a gain per channel (luma 1): what it makes of a white.

    Lights and varnishes tint white along the warm-cold axis (CIE b*) with little red or
    green (a*): a reddish reading is the lids' skin or the eye's vessels, not the light, so
    a* is held within a share of b*.
    """
    lab = cv2.cvtColor(
        (np.asarray(white_rgb, np.float32) / 255).reshape(1, 1, 3), cv2.COLOR_RGB2Lab
    ).reshape(3)
    a_max = T.LIGHT_RED_GREEN_MAX + T.LIGHT_RED_GREEN_PER_YELLOW * abs(float(lab[2]))
    lab[1] = np.clip(lab[1], -a_max, a_max)
    rgb = cv2.cvtColor(lab.reshape(1, 1, 3), cv2.COLOR_Lab2RGB).reshape(3)
    gain = rgb / max(float(np.dot(rgb, LUMA_WEIGHTS)), 1e-3)
    gain = np.clip(gain, T.LIGHT_GAIN_RANGE[0], T.LIGHT_GAIN_RANGE[1])
    return (gain / float(np.dot(gain, LUMA_WEIGHTS))).astype(np.float32)


def _chroma(rgb: np.ndarray) -> float:
    """How colourful ``rgb`` is: 0 for a grey, 1 for a pure hue."""
    return float((rgb.max() - rgb.min()) / max(float(rgb.max()), 1.0))


def _with_colourfulness(rgb: np.ndarray, share: float) -> np.ndarray:
    """``rgb`` moved towards the grey of its own luminance, keeping ``share`` of its colour."""
    grey = float(np.dot(rgb, LUMA_WEIGHTS))
    return np.clip(grey + share * (rgb - grey), 0, 255).astype(np.float32)


def _max_gap(landmarks: np.ndarray) -> float:
    upper = landmarks[list(regions.UPPER_LIP_INNER), 1]
    lower = landmarks[list(regions.LOWER_LIP_INNER), 1]
    return float(np.max(lower - upper))


def _cheek_colour(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    samples = []
    for idx in (50, 280, 101, 330):  # cheek centres, away from shadows of the nose
        x, y = np.round(landmarks[idx, :2]).astype(int)
        patch = image[max(y - 3, 0) : y + 4, max(x - 3, 0) : x + 4].reshape(-1, 3)
        if len(patch):
            samples.append(patch.astype(np.float32))
    if not samples:
        return np.array([180, 140, 120], np.float32)
    return np.median(np.concatenate(samples), axis=0)


def _smooth_mask(mask: np.ndarray, sigma_px: float) -> np.ndarray:
    return cv2.GaussianBlur(mask, (0, 0), sigma_px)


def draw_mouth(
    frame: np.ndarray,
    landmarks_now: np.ndarray,
    upper_jaw_landmarks: np.ndarray,
    look: MouthLook,
    tongue_tip: float = 0.0,
) -> None:
    """Paint the interior into ``frame`` in place, inside the current inner-lip outline.

    ``upper_jaw_landmarks`` are the landmarks without the jaw's motion: the upper teeth are
    fixed to the skull while the lower ones travel with the jaw.
    """
    inner = regions.loop_points(landmarks_now, regions.INNER_LIP_LOOP)
    h, w = frame.shape[:2]
    left, top, right, bottom = extent(inner)
    bx0 = max(math.floor(left) - MOUTH_BOX_MARGIN_PX, 0)
    by0 = max(math.floor(top) - MOUTH_BOX_MARGIN_PX, 0)
    bx1 = min(math.ceil(right) + MOUTH_BOX_MARGIN_PX + 1, w)
    by1 = min(math.ceil(bottom) + MOUTH_BOX_MARGIN_PX + 1, h)
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return
    upper_now = landmarks_now[_UPPER_INNER_LINE, :2]
    lower_now = landmarks_now[_LOWER_INNER_LINE, :2]
    gap = float(np.max(lower_now[:, 1] - upper_now[:, 1]))
    if gap < 0.6:
        return

    opening = polygon_coverage(inner, (bx0, by0, bx1, by1))
    softness = T.MOUTH_EDGE_SOFTNESS_PX_AT_512 * frame.shape[0] / 512
    opening = cv2.GaussianBlur(opening, (0, 0), softness * 0.6)

    if float(opening.max()) < 0.02:
        return
    # Rows and columns of the box, as a column and a row to broadcast against each other.
    ys = np.arange(by0, by1, dtype=np.float32)[:, None]
    cols = np.arange(bx0, bx1, dtype=np.float32)
    colour = _interior(ys, cols, inner, upper_now, lower_now, upper_jaw_landmarks, look, tongue_tip)
    # A photo is never as sharp as painted edges. (cv2 keeps the dtype; its stubs cannot say so.)
    blur_px = T.INTERIOR_BLUR_PX_AT_512 * frame.shape[0] / 512
    colour = cast("NDArray[np.float32]", cv2.GaussianBlur(colour, (0, 0), blur_px))
    if look.source_is_open:
        # The photo's own teeth ride with the upper lip, unstretched; below what the photo
        # shows, the synthetic cavity and lower teeth take over.
        src = _ride_with_upper_lip(ys, cols, upper_now, look.source_upper_lip)
        real = cv2.remap(  # type: ignore[call-overload]  # stubs: map2 may be None
            look.source_open_mask, src, None, cv2.INTER_LINEAR, borderValue=0
        )
        real_rgb = cv2.remap(  # type: ignore[call-overload]  # stubs: map2 may be None
            look.source_image, src, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        colour += (real_rgb.astype(np.float32) - colour) * real[:, :, None]
    target = frame[by0:by1, bx0:bx1].astype(np.float32)
    colour -= target
    colour *= unit(opening)[:, :, None]
    colour += target
    frame[by0:by1, bx0:bx1] = np.clip(colour, 0, 255).astype(np.uint8)


def _ride_with_upper_lip(
    ys: np.ndarray, cols: np.ndarray, upper_now: np.ndarray, upper_source: np.ndarray
) -> np.ndarray:
    """Photo coordinates (h, w, 2 float32) for the box's pixels (rows ``ys`` (h, 1), columns
    ``cols`` (w,)) that move rigidly with the upper lip."""
    out_l, out_r = float(upper_now[0, 0]), float(upper_now[-1, 0])
    src_l, src_r = float(upper_source[0, 0]), float(upper_source[-1, 0])
    src_x = src_l + (cols - out_l) * ((src_r - src_l) / max(out_r - out_l, 1.0))
    drop = line_y(upper_now, cols) - line_y(upper_source, src_x)
    src = np.empty((len(ys), len(cols), 2), np.float32)
    src[:, :, 0] = src_x
    src[:, :, 1] = ys - drop
    return src


def _interior(
    ys: np.ndarray,
    cols: np.ndarray,
    inner: np.ndarray,
    upper_now: np.ndarray,
    lower_now: np.ndarray,
    upper_jaw_landmarks: np.ndarray,
    look: MouthLook,
    tongue_tip: float = 0.0,
) -> np.ndarray:
    """Colour of the mouth's inside for every pixel of the box (rows ``ys`` (h, 1), columns
    ``cols`` (w,)): cavity, tongue (its tip raised to the upper teeth by ``tongue_tip``),
    two tooth rows."""
    f32 = np.float32
    top = line_y(upper_now, cols).astype(f32)
    bottom = line_y(lower_now, cols).astype(f32)
    rest_top = line_y(upper_jaw_landmarks[_UPPER_INNER_LINE, :2], cols).astype(f32)
    local_gap = np.maximum(bottom - top, f32(1e-3))
    x_lo, x_hi = float(inner[:, 0].min()), float(inner[:, 0].max())
    x_mid = 0.5 * (x_lo + x_hi)
    half_width = max(0.5 * (x_hi - x_lo), 1.0)
    across = unit(np.abs(cols - f32(x_mid)) / f32(half_width))
    across_sq = across**2
    width = look.mouth_width_px
    wide_open = unit(local_gap / f32(0.2 * width))

    upper_h = T.UPPER_TEETH_HEIGHT_TO_MOUTH_WIDTH * width
    lower_h = T.LOWER_TEETH_HEIGHT_TO_MOUTH_WIDTH * width

    # Tongue: a rounded mass low in the mouth, lit from the front. For /l t d n th/ its tip
    # rises in the middle until it touches behind the upper teeth.
    tongue_top = bottom - 0.55 * local_gap
    if tongue_tip > 0:
        tip = unit(1.0 - (across / T.TONGUE_TIP_HALF_WIDTH_SHARE) ** 2) ** 2  # a rounded bump
        touch = rest_top + f32(upper_h * (1.0 - T.TONGUE_TIP_BEHIND_TEETH_SHARE))
        tongue_top += f32(tongue_tip) * tip * (np.minimum(touch, tongue_top) - tongue_top)

    depth = unit((ys - top) / local_gap)
    # Everything else that changes down a column is a ramp from 0 to 1 starting at some
    # height, over a fixed length (negative: falling), all computed at once: the tongue's
    # surface, the light on it, the shade under the upper lip, and both edges of each tooth
    # row (soft over 1, 2 and 1.5 px).
    starts = np.empty((7, 1, len(cols)), f32)
    starts[0, 0] = tongue_top
    starts[1, 0] = tongue_top
    starts[2, 0] = top
    starts[3, 0] = rest_top - 2.5
    starts[4, 0] = rest_top + f32(upper_h + 1.0)
    starts[5, 0] = bottom - f32(lower_h + 0.5)
    starts[6, 0] = bottom + 1.75
    per_px = np.array(
        [0.5, 1 / max(0.2 * width, 1.0), 1 / max(0.6 * upper_h, 1.0), 1.0, -0.5, 1.0, -1 / 1.5],
        f32,
    )[:, None, None]
    ramps = unit((ys - starts) * per_px)
    tongue_surface, tongue_lit, lip_shade, up_in, up_out, low_in, low_out = ramps

    # Cavity: lip-tinted darkness, deepest in the middle, as light does not reach the back.
    shade = (1.0 - T.CAVITY_DEPTH_SHADE * wide_open * np.sin(f32(np.pi) * depth)) * (
        1.0 - 0.4 * across_sq
    )
    tongue = tongue_surface * (unit(1.0 - across_sq / 0.55) * wide_open)
    tongue_light = 0.75 + 0.25 * tongue_lit

    # Teeth follow the dental arch: full in the middle, turning away into the dark of the
    # cheeks towards the corners, with a faint gap between neighbours.
    arch = unit(1.0 - (across / T.TEETH_WIDTH_SHARE) ** 2) ** 0.5
    fade = unit(arch / T.TEETH_CORNER_FADE) ** 2
    gaps = _tooth_gaps(cols, x_mid, half_width * T.TEETH_WIDTH_SHARE, width)
    upper_teeth = up_in * up_out * fade
    lower_teeth = low_in * low_out * fade
    # Shadowed under the upper lip, lit at the biting edge.
    under_lip = (0.4 + 0.6 * arch) * (0.55 + 0.45 * lip_shade)

    # Layered cavity < tongue < upper teeth < lower teeth, each layer one colour times a
    # brightness: the result is a per-pixel mix of the three colours.
    over_lower = 1.0 - lower_teeth
    over_teeth = (1.0 - upper_teeth) * over_lower
    mix = cv2.merge(
        [
            shade * (1.0 - tongue) * over_teeth,
            tongue_light * tongue * over_teeth,
            under_lip * (gaps * upper_teeth * over_lower + 0.7 * lower_teeth),
        ]
    )
    return cv2.transform(mix, look.palette)


def _tooth_gaps(
    cols: np.ndarray, x_mid: float, arch_half_width: float, mouth_width: float
) -> np.ndarray:
    """Brightness per column: dips where neighbouring teeth meet, closer towards the corners."""
    sigma = max(T.TOOTH_GAP_WIDTH_TO_MOUTH_WIDTH * mouth_width, 0.4)
    # Seen on an arch, teeth narrow towards the corners.
    xs = x_mid + arch_half_width * _TOOTH_ARC_SINES
    off = (cols[None, :] - xs[:, None].astype(np.float32)) / np.float32(sigma)
    return np.prod(1.0 - T.TOOTH_GAP_DARKNESS * np.exp(-0.5 * off**2), axis=0)
