"""Finding faces and their 478 landmarks with MediaPipe's face mesh (refined, with irises)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from headcast.face.native_log import quiet_native_stderr

MAX_FACES = 5
CROP_TO_BOX_RATIO = 2.0  # mesh crop side over the detector's face box
MESH_CROP_MIN_PX = 256  # small faces are upscaled to this before meshing
MIN_DETECTION_CONFIDENCE = 0.5


@dataclass(frozen=True)
class FaceLandmarks:
    """One face: (478, 3) landmarks in pixels (x right, y down, z towards the viewer negative)."""

    points: np.ndarray

    @property
    def box(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) around the landmarks."""
        xy = self.points[:, :2]
        x0, y0 = xy.min(axis=0)
        x1, y1 = xy.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    @property
    def height_px(self) -> float:
        _x0, y0, _x1, y1 = self.box
        return y1 - y0

    @property
    def area_px(self) -> float:
        x0, y0, x1, y1 = self.box
        return (x1 - x0) * (y1 - y0)


class _Models:
    """MediaPipe graphs shared by the process; they are not re-entrant, hence the lock."""

    lock = threading.Lock()
    # mediapipe ships no type information: its graphs are Any to the type checker.
    _mesh: Any = None
    _detector: Any = None

    @classmethod
    def mesh(cls) -> Any:
        if cls._mesh is None:
            from mediapipe.python.solutions import face_mesh

            cls._mesh = face_mesh.FaceMesh(
                static_image_mode=True,
                refine_landmarks=True,
                max_num_faces=1,
                min_detection_confidence=MIN_DETECTION_CONFIDENCE,
            )
        return cls._mesh

    @classmethod
    def detector(cls) -> Any:
        if cls._detector is None:
            from mediapipe.python.solutions import face_detection

            # The full-range model also finds small faces in large photos and group shots.
            cls._detector = face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=MIN_DETECTION_CONFIDENCE
            )
        return cls._detector


def _mesh_points(image_rgb: np.ndarray) -> np.ndarray | None:
    with quiet_native_stderr():
        result = _Models.mesh().process(np.ascontiguousarray(image_rgb))
    if not result.multi_face_landmarks:
        return None
    h, w = image_rgb.shape[:2]
    lm = result.multi_face_landmarks[0].landmark
    return np.array([(p.x * w, p.y * h, p.z * w) for p in lm], np.float32)


def _face_boxes(image_rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
    with quiet_native_stderr():
        result = _Models.detector().process(np.ascontiguousarray(image_rgb))
    h, w = image_rgb.shape[:2]
    boxes = []
    for det in result.detections or []:
        b = det.location_data.relative_bounding_box
        boxes.append((b.xmin * w, b.ymin * h, b.width * w, b.height * h))
    return boxes


def detect_faces(image_rgb: np.ndarray) -> list[FaceLandmarks]:
    """All faces found in the image, largest first.

    Faces are found by the full-range detector, then each gets its mesh from a crop around it,
    so a small face in a large photo is meshed at a useful resolution.
    """
    image_rgb = np.ascontiguousarray(image_rgb)
    height, width = image_rgb.shape[:2]
    faces: list[FaceLandmarks] = []
    with _Models.lock:
        boxes = _face_boxes(image_rgb)[:MAX_FACES]
        for x, y, bw, bh in boxes:
            side = CROP_TO_BOX_RATIO * max(bw, bh)
            cx, cy = x + bw / 2, y + bh / 2
            x0, y0 = int(max(cx - side / 2, 0)), int(max(cy - side / 2, 0))
            x1, y1 = int(min(cx + side / 2, width)), int(min(cy + side / 2, height))
            if x1 - x0 < 16 or y1 - y0 < 16:
                continue
            crop = image_rgb[y0:y1, x0:x1]
            scale = 1.0
            if max(crop.shape[:2]) < MESH_CROP_MIN_PX:
                scale = MESH_CROP_MIN_PX / max(crop.shape[:2])
                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            points = _mesh_points(crop)
            if points is None:
                continue
            points[:, :3] /= scale
            points[:, 0] += x0
            points[:, 1] += y0
            faces.append(FaceLandmarks(points))
        if not faces:
            points = _mesh_points(image_rgb)
            if points is not None:
                faces.append(FaceLandmarks(points))
    faces.sort(key=lambda f: f.area_px, reverse=True)
    return faces
