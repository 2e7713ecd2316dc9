"""One browser's WebRTC connection to one live session."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiortc import RTCPeerConnection

from headcast.server.sessions.registry import RegisteredSession
from headcast.server.sessions.webrtc_media import SessionFeed


@dataclass
class LivePeer:
    """One browser's connection to one live session."""

    live: RegisteredSession
    pc: RTCPeerConnection
    feed: SessionFeed
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    closing: bool = False
