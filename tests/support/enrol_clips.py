"""A real clip to enrol (``tests/media/grid-s1.mp4``, one GRID speaker, 15 s with audio) and,
built from it at test time, the clips enrolment must refuse: no face, two faces, a face too
small, too short. Each is a real H.264/AAC file, written frame by frame."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np

from scripts.make_grid_sample import OUTPUT as GRID_CLIP
from scripts.make_grid_sample import TRANSCRIPT as GRID_TRANSCRIPT

__all__ = [
    "GRID_CLIP",
    "GRID_TRANSCRIPT",
    "clip_too_short",
    "clip_with_small_face",
    "clip_with_two_faces",
    "clip_without_face",
    "grid_clip",
]

# Speed over size: these files live for one test session.
_FAST_VIDEO_OPTIONS = {"preset": "ultrafast", "crf": "23"}
# Right of the head, above the shoulders, GRID's backdrop is bare in every frame.
_BACKDROP_ROWS, _BACKDROP_COLS = slice(0, 160), slice(240, 360)
# The face drops from ~130 px tall to ~45 px: still found on every frame (at 0.3 it is lost
# on half of them), far too small to mesh a mouth from.
SMALL_FACE_SCALE = 0.35
SMALL_FACE_CANVAS_SCALE = 2.0  # on a canvas twice the clip's size
SHORT_CLIP_S = 4.0  # under the 5 s of usable frames enrolment needs


def grid_clip() -> Path:
    """The shipped clip: GRID speaker s1 saying five sentences (``GRID_TRANSCRIPT``)."""
    return GRID_CLIP


def clip_without_face(folder: Path) -> Path:
    """15 s of GRID's bare backdrop (a crop beside the head, scaled ×2 to 240×320), with the
    speech still on it."""

    def backdrop(rgb: np.ndarray) -> np.ndarray:
        crop = rgb[_BACKDROP_ROWS, _BACKDROP_COLS]
        return cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR)

    return _rewrite(folder / "no-face.mp4", backdrop)


def clip_with_two_faces(folder: Path) -> Path:
    """The clip beside itself (720×288): the same speaker twice."""
    return _rewrite(folder / "two-faces.mp4", lambda rgb: np.concatenate([rgb, rgb], axis=1))


def clip_with_small_face(folder: Path) -> Path:
    """The clip shrunk by ``SMALL_FACE_SCALE`` in the middle of a plain canvas
    ``SMALL_FACE_CANVAS_SCALE`` times its size (720×576)."""

    def shrink(rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        canvas = np.full(
            (int(height * SMALL_FACE_CANVAS_SCALE), int(width * SMALL_FACE_CANVAS_SCALE), 3),
            128,
            np.uint8,
        )
        small = cv2.resize(rgb, None, fx=SMALL_FACE_SCALE, fy=SMALL_FACE_SCALE,
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        y0 = (canvas.shape[0] - small.shape[0]) // 2
        x0 = (canvas.shape[1] - small.shape[1]) // 2
        canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
        return canvas

    return _rewrite(folder / "small-face.mp4", shrink)


def clip_too_short(folder: Path, seconds: float = SHORT_CLIP_S) -> Path:
    """The first ``seconds`` of the clip, picture and sound."""
    return _rewrite(folder / "short.mp4", lambda rgb: rgb, seconds=seconds)


def _rewrite(
    target: Path,
    transform: Callable[[np.ndarray], np.ndarray],
    seconds: float | None = None,
) -> Path:
    """``GRID_CLIP`` with each RGB frame passed through ``transform`` (even-sized output),
    cut at ``seconds`` if given, its audio kept; ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(GRID_CLIP)) as source, av.open(str(target), "w") as output:
        video_in, audio_in = source.streams.video[0], source.streams.audio[0]
        out_height, out_width = transform(
            np.zeros((video_in.height, video_in.width, 3), np.uint8)
        ).shape[:2]
        video_out = output.add_stream("libx264", rate=video_in.average_rate)
        video_out.width, video_out.height, video_out.pix_fmt = out_width, out_height, "yuv420p"
        video_out.codec_context.options = dict(_FAST_VIDEO_OPTIONS)
        audio_out = output.add_stream("aac", rate=audio_in.sample_rate, layout="mono")
        for packet in source.demux(video_in, audio_in):
            for frame in packet.decode():
                if not isinstance(frame, av.VideoFrame | av.AudioFrame):
                    continue
                if seconds is not None and frame.time is not None and frame.time >= seconds:
                    continue
                if isinstance(frame, av.VideoFrame):
                    rgb = transform(frame.to_ndarray(format="rgb24"))
                    output.mux(video_out.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
                else:
                    output.mux(audio_out.encode(frame))
        output.mux(video_out.encode(None))
        output.mux(audio_out.encode(None))
    return target
