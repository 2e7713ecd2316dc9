"""The ranges every way in accepts alike: the CLI, the REST API and the live protocols.

One place, so that a frame rate or a size that works in one front end works in all of them.
"""

from __future__ import annotations

# Video and lip-sync tracks alike: below 5 fps lips cannot follow speech; 60 is the most any
# player or capture app (Live Link Face included) uses.
MIN_FPS, MAX_FPS = 5.0, 60.0
DEFAULT_FPS = 25.0

# Square output, in pixels: below 128 the mouth is a few pixels; above 1024 the one-photo
# warp shows no more detail, only costs more.
MIN_SIZE_PX, MAX_SIZE_PX = 128, 1024
DEFAULT_SIZE_PX = 512

# Live audio pushed by clients, and the rates live frames carry their audio at.
MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ = 8_000, 48_000
DEFAULT_SAMPLE_RATE_HZ = 16_000

# Longest speech rendered or analysed in one call, unless the caller sets its own limit.
DEFAULT_MAX_AUDIO_S = 600.0


def fps_error(fps: float) -> str | None:
    """Why ``fps`` cannot be used, or None."""
    if not MIN_FPS <= fps <= MAX_FPS:
        return f"fps must be between {MIN_FPS:g} and {MAX_FPS:g}, got {fps:g}"
    return None
