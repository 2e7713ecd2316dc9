"""The Avatar: a framed portrait with its landmarks and warp mesh, prepared once per photo."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from headcast import settings
from headcast.errors import InputError
from headcast.face import regions
from headcast.face.framing import crop_framed, frame_face
from headcast.face.gaze import gaze_correction
from headcast.face.image_io import load_image
from headcast.face.landmarks import detect_faces
from headcast.face.mesh import WarpMesh, build_warp_mesh
from headcast.face.segmentation import person_mask
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT

log = logging.getLogger(__name__)

AVATAR_FORMAT_VERSION = 3
MIN_FACE_HEIGHT_PX = (
    64  # landmark extent in the source photo; smaller faces carry too little detail
)
MIN_OUTPUT_SIZE_PX = 128
MAX_OUTPUT_SIZE_PX = 2048
MEMORY_CACHE_ENTRIES = 16


@dataclass(frozen=True)
class Avatar:
    """Everything about a portrait that stays the same from frame to frame."""

    image: np.ndarray  # (size, size, 3) uint8 RGB, the framed portrait
    landmarks: np.ndarray  # (478, 3) float32 in output pixels
    mesh: WarpMesh
    key: str  # content hash of the source photo and the preparation settings
    faces_found: int
    person: np.ndarray  # (size, size) uint8, 255 on the person, 0 on the background
    # Added to every frame's gaze: (0, 0) keeps the photo's gaze, see ``aimed_at_camera``.
    gaze_offset: tuple[float, float] = (0.0, 0.0)
    # The folder of the enrolled avatar this portrait is the representative frame of, when
    # it is one (``headcast.enrol``); engines that draw from real frames read it.
    enrolment: str | None = None
    # The head-motion intensity, 0 (still) to 1, of engines that play a recorded head
    # (enrolled avatars); a photo's head moves as its FaceMotion says.
    head_motion: float = HEAD_MOTION_DEFAULT

    def aimed_at_camera(self) -> Avatar:
        """This avatar with its irises re-aimed at the camera when the photo looks away."""
        return replace(self, gaze_offset=gaze_correction(self.landmarks))

    @property
    def size_px(self) -> int:
        return int(self.image.shape[0])

    @property
    def inter_ocular_px(self) -> float:
        return regions.inter_ocular_px(self.landmarks)


def photo_digest(data: bytes) -> str:
    """Content hash of a photo: the cache key, with its settings, of what is derived from it."""
    return hashlib.sha256(data).hexdigest()[:32]


def read_photo_file(path: str | Path, label: str) -> bytes:
    """A photo file's bytes; a missing or unreadable file is an InputError naming ``label``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{label}: no such file" if not path.exists() else f"{label}: not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{label}: cannot read the file ({exc.strerror})") from exc


def default_cache_dir() -> Path:
    return settings.cache_dir() / "avatars"


_memory: OrderedDict[str, Avatar] = OrderedDict()
_memory_lock = threading.Lock()


def prepare_avatar(
    source: str | Path | bytes | np.ndarray,
    size_px: int = 512,
    *,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    name: str | None = None,
) -> Avatar:
    """Load, find the face, frame it and build its mesh — or fetch the result from the cache."""
    if not MIN_OUTPUT_SIZE_PX <= size_px <= MAX_OUTPUT_SIZE_PX:
        raise InputError(
            f"size must be between {MIN_OUTPUT_SIZE_PX} and {MAX_OUTPUT_SIZE_PX} pixels"
        )
    if size_px % 2:
        raise InputError("size must be an even number of pixels (video codecs need it)")
    label = name or ("image" if isinstance(source, bytes | np.ndarray) else str(source))
    if isinstance(source, np.ndarray):
        image = _as_rgb(source)
        digest_input = image.tobytes() + str(image.shape).encode()
    else:
        raw = source if isinstance(source, bytes) else read_photo_file(source, label)
        image = None
        digest_input = raw
    key = _avatar_key(digest_input, size_px)

    avatar = _cached(key, cache_dir) if use_cache else None
    if avatar is None:
        if image is None:
            image = load_image(raw, name=label)
        avatar = _prepare(image, size_px, key, label)
        if use_cache:
            _remember(avatar)
            _store_cached(cache_dir or default_cache_dir(), avatar)
    if avatar.faces_found > 1:
        log.warning("%s: %d faces found; animating the largest", label, avatar.faces_found)
    return avatar


def is_prepared(photo: bytes, size_px: int, cache_dir: Path | None = None) -> bool:
    """Whether ``prepare_avatar`` will find this photo's avatar ready, without analysing it."""
    key = _avatar_key(photo, size_px)
    with _memory_lock:
        if key in _memory:
            return True
    return (cache_dir or default_cache_dir()).joinpath(f"{key}.npz").is_file()


def _avatar_key(digest_input: bytes, size_px: int) -> str:
    return photo_digest(digest_input) + f"-{size_px}-v{AVATAR_FORMAT_VERSION}"


def _cached(key: str, cache_dir: Path | None) -> Avatar | None:
    with _memory_lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    cached = _load_cached(cache_dir or default_cache_dir(), key)
    if cached is not None:
        _remember(cached)
    return cached


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8:
        raise InputError("image arrays must be uint8")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise InputError(f"image array has unsupported shape {image.shape}")


def _prepare(image: np.ndarray, size_px: int, key: str, label: str) -> Avatar:
    faces = detect_faces(image)
    if not faces:
        raise InputError(f"{label}: no face found in the image")
    face = faces[0]
    if face.height_px < MIN_FACE_HEIGHT_PX:
        raise InputError(
            f"{label}: the face is too small to animate ({face.height_px:.0f} px tall; "
            f"at least {MIN_FACE_HEIGHT_PX} px needed)"
        )
    framing = frame_face(image.shape, face, size_px)
    framed = crop_framed(image, framing, size_px)
    # Landmarks found again on the framed image are more precise than scaled ones for small faces.
    refined = detect_faces(framed)
    landmarks = refined[0].points if refined else framing.to_output(face.points)
    mesh = build_warp_mesh(landmarks, size_px)
    person = np.round(person_mask(framed) * 255).astype(np.uint8)
    return Avatar(
        image=framed,
        landmarks=landmarks,
        mesh=mesh,
        key=key,
        faces_found=len(faces),
        person=person,
    )


def _remember(avatar: Avatar) -> None:
    with _memory_lock:
        _memory[avatar.key] = avatar
        _memory.move_to_end(avatar.key)
        while len(_memory) > MEMORY_CACHE_ENTRIES:
            _memory.popitem(last=False)


def _load_cached(cache_dir: Path, key: str) -> Avatar | None:
    path = cache_dir / f"{key}.npz"
    try:
        with np.load(path) as data:
            mesh = WarpMesh(
                vertices=data["vertices"],
                head_weight=data["head_weight"],
                region=tuple(int(v) for v in data["region"]),  # type: ignore[arg-type]
            )
            return Avatar(
                image=data["image"],
                landmarks=data["landmarks"],
                mesh=mesh,
                key=key,
                faces_found=int(data["faces_found"]),
                person=data["person"],
            )
    except (OSError, KeyError, ValueError):
        return None


def _store_cached(cache_dir: Path, avatar: Avatar) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{avatar.key}.{os.getpid()}.{threading.get_ident()}.npz"
        np.savez(
            tmp,
            image=avatar.image,
            landmarks=avatar.landmarks,
            vertices=avatar.mesh.vertices,
            head_weight=avatar.mesh.head_weight,
            region=np.array(avatar.mesh.region),
            faces_found=np.array(avatar.faces_found),
            person=avatar.person,
        )
        os.replace(tmp, cache_dir / f"{avatar.key}.npz")
    except OSError as exc:
        log.debug("avatar cache not written: %s", exc)
