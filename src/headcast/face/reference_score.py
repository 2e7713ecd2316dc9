"""Which portrait animates best: rank candidate reference photos and say why.

A frontal, sharp, evenly lit face with eyes open and mouth closed animates well; a turned,
blurry, squinting or smiling one does not. Each photo gets the criteria of
``reference_criteria`` (scores in [0, 1] with a reason) and a combined score: the weighted
geometric mean of the criteria, so that one severe flaw pulls a photo down hard. Photos are
decoded at reduced size (JPEG draft mode), so a 12 MP phone picture costs a few tens of ms.

The same ``score_reference`` serves ``headcast pick-reference``, the service and ``animate``
(which warns through ``poor_reference_warnings``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from headcast.errors import InputError
from headcast.face import regions as R
from headcast.face.avatar import (
    MIN_FACE_HEIGHT_PX,
    default_cache_dir,
    photo_digest,
    read_photo_file,
)
from headcast.face.image_io import MAX_IMAGE_PIXELS, load_image
from headcast.face.landmarks import detect_faces
from headcast.face.reference_criteria import (
    EYE_LOOPS,
    FLAW_BELOW_SCORE,
    CriterionScore,
    FaceCrop,
    exposure_criterion,
    eyes_criterion,
    faces_criterion,
    framing_criterion,
    head_pose_deg,
    lighting_criterion,
    mouth_criterion,
    occlusion_criterion,
    pose_criterion,
    resolution_criterion,
    sharpness_criterion,
)

log = logging.getLogger(__name__)

DECODE_LONG_SIDE_PX = 1600  # photos are decoded at least about this large, then analysed
SCORE_FLOOR = 0.02  # criteria are floored here before the geometric mean
POOR_REFERENCE_SCORE = 0.6  # `animate` warns below this combined score ...
SEVERE_FLAW_SCORE = 0.2  # ... or when any criterion is under this
DECODE_WORKERS = 4  # photos decoded in parallel (face detection itself is serialised)
# Remembered scores carry this; raise it whenever a criterion, weight or reason text changes.
SCORE_FORMAT_VERSION = 1

# Weights of the combined score; they sum to 1. Geometry and detail that the renderer cannot
# fix weigh most; framing and lighting, which it copes with, least.
WEIGHTS = {
    "faces": 0.05,
    "resolution": 0.12,
    "pose": 0.14,
    "eyes": 0.12,
    "mouth": 0.12,
    "sharpness": 0.12,
    "exposure": 0.12,
    "lighting": 0.06,
    "occlusion": 0.08,
    "framing": 0.07,
}
PHOTO_SUFFIXES = frozenset(
    [".jpg", ".jpeg", ".jpe", ".png", ".webp", ".heic", ".heif", ".avif", ".tif", ".tiff", ".bmp"]
)
_EXIF_ORIENTATION = 0x0112
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")
_FLAW_REGIONS = {
    "eyes": EYE_LOOPS[0] + EYE_LOOPS[1],
    "occlusion": EYE_LOOPS[0] + EYE_LOOPS[1],
    "mouth": R.OUTER_LIP_LOOP,
}


@dataclass
class ReferenceScore:
    """How well one photo would serve as the reference portrait; coordinates in source pixels."""

    path: str
    score: float  # combined, in [0, 1]
    criteria: list[CriterionScore]
    face_found: bool
    faces: int
    eye_distance_px: float = 0.0  # between the outer eye corners, in the source photo
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    image_size: tuple[int, int] = (0, 0)  # (width, height) after EXIF orientation
    face_box: tuple[float, float, float, float] | None = None  # (x0, y0, x1, y1)
    flaw_box: tuple[float, float, float, float] | None = None  # where the main flaw is
    usable: bool = False  # a face large enough to animate
    rank: int = 0

    def criterion(self, name: str) -> CriterionScore:
        return next(c for c in self.criteria if c.name == name)

    @property
    def flaws(self) -> list[CriterionScore]:
        """Criteria under FLAW_BELOW_SCORE, the costliest to the combined score first."""
        bad = [c for c in self.criteria if c.score < FLAW_BELOW_SCORE]
        return sorted(bad, key=lambda c: WEIGHTS[c.name] * math.log(max(c.score, SCORE_FLOOR)))

    @property
    def main_flaw(self) -> CriterionScore | None:
        flaws = self.flaws
        return flaws[0] if flaws else None

    def top_reasons(self, n: int = 3) -> list[str]:
        return [c.reason for c in self.flaws[:n]] or ["no notable flaw"]

    def to_dict(self) -> dict:
        data = asdict(self)
        data["criteria"] = {
            c.name: {"score": round(c.score, 3), "reason": c.reason, "weight": WEIGHTS[c.name]}
            for c in self.criteria
        }
        data["main_flaw"] = self.main_flaw.name if self.main_flaw else None
        data["reasons"] = self.top_reasons()
        return data


@dataclass(frozen=True)
class SkippedPhoto:
    path: str
    reason: str


def combine(criteria: list[CriterionScore]) -> float:
    """Weighted geometric mean of the criteria, each floored at SCORE_FLOOR."""
    total = sum(WEIGHTS[c.name] for c in criteria)
    log_sum = sum(WEIGHTS[c.name] * math.log(max(c.score, SCORE_FLOOR)) for c in criteria)
    return round(math.exp(log_sum / total), 4)


def score_reference(
    image_rgb: np.ndarray,
    name: str,
    *,
    source_scale: float = 1.0,
    source_size: tuple[int, int] | None = None,
) -> ReferenceScore:
    """Score one decoded RGB photo. ``source_scale``: source pixels per pixel of ``image_rgb``."""
    size = source_size or (
        round(image_rgb.shape[1] * source_scale),
        round(image_rgb.shape[0] * source_scale),
    )
    faces = detect_faces(image_rgb)
    if not faces:
        criteria = [CriterionScore("faces", 0.0, "no face found")]
        return ReferenceScore(name, 0.0, criteria, False, 0, image_size=size)
    points = faces[0].points.astype(np.float64)
    iod = R.inter_ocular_px(points)
    yaw, pitch, roll = head_pose_deg(points)
    crop = FaceCrop(image_rgb, points, iod)
    criteria = [
        faces_criterion([f.area_px for f in faces]),
        resolution_criterion(iod * source_scale),
        pose_criterion(yaw, pitch, roll),
        eyes_criterion(points),
        mouth_criterion(points, iod),
        sharpness_criterion(crop),
        exposure_criterion(crop),
        lighting_criterion(crop),
        occlusion_criterion(crop),
        framing_criterion(points, image_rgb.shape),
    ]
    result = ReferenceScore(
        path=name,
        score=combine(criteria),
        criteria=criteria,
        face_found=True,
        faces=len(faces),
        eye_distance_px=round(iod * source_scale, 1),
        yaw_deg=round(yaw, 1),
        pitch_deg=round(pitch, 1),
        roll_deg=round(roll, 1),
        image_size=size,
        face_box=_box(points[:, :2], source_scale, 0.0),
        usable=faces[0].height_px * source_scale >= MIN_FACE_HEIGHT_PX,
    )
    flaw = result.main_flaw
    if flaw is not None:
        idx = _FLAW_REGIONS.get(flaw.name)
        xy = points[list(idx), :2] if idx else points[:, :2]
        result.flaw_box = _box(xy, source_scale, 0.25 * iod)
    return result


def _box(xy: np.ndarray, scale: float, pad_px: float) -> tuple[float, float, float, float]:
    x0, y0 = (xy.min(axis=0) - pad_px) * scale
    x1, y1 = (xy.max(axis=0) + pad_px) * scale
    return round(float(x0), 1), round(float(y0), 1), round(float(x1), 1), round(float(y1), 1)


def poor_reference_warnings(result: ReferenceScore) -> list[str]:
    """Lines for `animate` to log: empty unless the photo scores poorly or has a severe flaw."""
    severe = [c.reason for c in result.flaws if c.score < SEVERE_FLAW_SCORE]
    if result.score >= POOR_REFERENCE_SCORE and not severe:
        return []
    head = f"{Path(result.path).name} scores {result.score:.2f} as a reference photo"
    return [f"{head}: {reason}" for reason in severe or result.top_reasons(2)]


# -- remembered scores of whole photo files -----------------------------------------------------


def score_photo(
    source: str | Path | bytes,
    name: str,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> ReferenceScore:
    """``score_reference`` of a whole photo file, remembered by content beside the avatar cache.

    Scoring runs the landmark model on the full photo (about a second in a fresh process, with
    the model's start-up); a photo scored before costs a hash and a small file read. The
    result's ``path`` is always ``name``.
    """
    raw = source if isinstance(source, bytes) else read_photo_file(source, name)
    key = f"{photo_digest(raw)}-score-v{SCORE_FORMAT_VERSION}"
    path = (cache_dir or default_cache_dir()) / f"{key}.json"
    found = _load_score(path) if use_cache else None
    if found is None:
        found = score_reference(load_image(raw, name=name), name)
        if use_cache:
            _store_score(path, found)
    return replace(found, path=name)


def _load_score(path: Path) -> ReferenceScore | None:
    try:
        data = json.loads(path.read_text())
        return ReferenceScore(
            **{
                **data,
                "criteria": [CriterionScore(**c) for c in data["criteria"]],
                "image_size": tuple(data["image_size"]),
                "face_box": _tuple_or_none(data["face_box"]),
                "flaw_box": _tuple_or_none(data["flaw_box"]),
            }
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None  # absent, or unreadable: scored afresh and written again


def _tuple_or_none(value: list | None) -> tuple | None:
    return None if value is None else tuple(value)


def _store_score(path: Path, result: ReferenceScore) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.{threading.get_ident()}.json")
        tmp.write_text(json.dumps(asdict(result)))
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("reference score not cached: %s", exc)


# -- reading and ranking photos ----------------------------------------------------------------


def _register_heif() -> bool:
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener()
    return True


HEIF_SUPPORTED = _register_heif()


def load_reduced(
    path: str | Path, long_side_px: int = DECODE_LONG_SIDE_PX
) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Decode a photo upright (EXIF orientation), reduced to about ``long_side_px``.

    JPEGs are reduced while decoding (draft mode: 1/2, 1/4, 1/8 scale), other formats after.
    Returns (RGB uint8 array, source pixels per decoded pixel, upright source (width, height)).
    """
    path = Path(path)
    label = str(path)
    if not path.is_file():
        raise InputError(f"{label}: no such file" if not path.exists() else f"{label}: not a file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise InputError(f"{label}: image is {width}x{height}, over the size limit")
                k = min(1.0, long_side_px / max(width, height))
                img.draft("RGB", (math.ceil(width * k), math.ceil(height * k)))
                scale = width / img.size[0]
                if img.getexif().get(_EXIF_ORIENTATION, 1) in (5, 6, 7, 8):  # quarter turns
                    width, height = height, width
                upright = ImageOps.exif_transpose(img).convert("RGB")
                if max(upright.size) > 1.5 * long_side_px:
                    before = upright.size[0]
                    upright.thumbnail((long_side_px, long_side_px), Image.Resampling.BILINEAR)
                    scale *= before / upright.size[0]
                rgb = np.asarray(upright, dtype=np.uint8)
    except InputError:
        raise
    except PermissionError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror})") from exc
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        if not HEIF_SUPPORTED and _is_heif(path):
            raise InputError(
                f"{label}: HEIC/HEIF photos need the pillow-heif package "
                "(pip install 'pillow-heif>=0.18')"
            ) from None
        raise InputError(f"{label}: not an image this program can read") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise InputError(f"{label}: the image is damaged or truncated ({exc})") from exc
    return rgb, scale, (width, height)


def _is_heif(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(32)
    except OSError:
        return False
    return head[4:8] == b"ftyp" and any(brand in head[8:] for brand in _HEIF_BRANDS)


def expand_photo_paths(paths: Iterable[str | Path]) -> tuple[list[Path], list[SkippedPhoto]]:
    """Files as given; folders contribute their photos (by suffix, not recursive, sorted)."""
    files: list[Path] = []
    skipped: list[SkippedPhoto] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in PHOTO_SUFFIXES
            )
            if not found:
                skipped.append(SkippedPhoto(str(path), "folder holds no photos"))
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            skipped.append(SkippedPhoto(str(path), "no such file"))
    return files, skipped


def _score_file(path: Path) -> ReferenceScore | SkippedPhoto:
    try:
        rgb, scale, size = load_reduced(path)
    except InputError as exc:
        return SkippedPhoto(str(path), str(exc).removeprefix(f"{path}: "))
    return score_reference(rgb, str(path), source_scale=scale, source_size=size)


def rank_references(
    paths: Iterable[str | Path],
) -> tuple[list[ReferenceScore], list[SkippedPhoto]]:
    """Score photos (files or folders of them): best first, ties broken by resolution.

    Photos without a usable face rank last. Unreadable files come back as skipped, with why.
    """
    files, skipped = expand_photo_paths(paths)
    with ThreadPoolExecutor(max_workers=DECODE_WORKERS) as pool:
        results = list(pool.map(_score_file, files))
    ranked = [r for r in results if isinstance(r, ReferenceScore)]
    skipped += [r for r in results if isinstance(r, SkippedPhoto)]
    ranked.sort(key=lambda r: (not r.usable, -round(r.score, 3), -r.eye_distance_px))
    for rank, result in enumerate(ranked, start=1):
        result.rank = rank
    return ranked, skipped


__all__ = [
    "HEIF_SUPPORTED",
    "POOR_REFERENCE_SCORE",
    "WEIGHTS",
    "CriterionScore",
    "ReferenceScore",
    "SkippedPhoto",
    "combine",
    "expand_photo_paths",
    "load_reduced",
    "poor_reference_warnings",
    "rank_references",
    "score_photo",
    "score_reference",
]
