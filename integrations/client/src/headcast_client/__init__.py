"""A light client of headcast's live ``/v1/stream``: an avatar's frames and their audio from a
running ``headcast serve`` (remote mode) or from one started as a child process (local mode).
Needs only websockets, numpy and Pillow, so it installs beside any agent framework."""

from headcast_client.local_server import LocalServer
from headcast_client.stream import (
    AvatarFrame,
    AvatarStream,
    AvatarStreamError,
    SegmentFinished,
    StreamOptions,
)

__all__ = [
    "AvatarFrame",
    "AvatarStream",
    "AvatarStreamError",
    "LocalServer",
    "SegmentFinished",
    "StreamOptions",
]
