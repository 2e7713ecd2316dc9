"""Video output: file encoding (MP4, WebM) and JPEG frames for frame streams."""

from headcast.video.encode import VideoWriter, encode_jpeg

__all__ = ["VideoWriter", "encode_jpeg"]
