"""Faces: landmarks, framing, the warp mesh and the prepared Avatar."""

from headcast.face.avatar import Avatar, prepare_avatar
from headcast.face.image_io import load_image
from headcast.face.landmarks import FaceLandmarks, detect_faces
from headcast.face.mesh import WarpMesh

__all__ = ["Avatar", "FaceLandmarks", "WarpMesh", "detect_faces", "load_image", "prepare_avatar"]
