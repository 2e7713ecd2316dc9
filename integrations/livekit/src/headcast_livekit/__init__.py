"""headcast as a LiveKit Agents avatar: ``HeadcastVideoGenerator`` (a ``VideoGenerator`` over
headcast's live ``/v1/stream``) and ``AvatarSession``, which wires it into an agent with
``QueueAudioOutput`` and ``AvatarRunner`` against a remote ``headcast serve`` or one it
starts itself."""

from headcast_client import AvatarStreamError, LocalServer, StreamOptions

from headcast_livekit.avatar_session import AvatarSession
from headcast_livekit.video_generator import HeadcastVideoGenerator

__all__ = [
    "AvatarSession",
    "AvatarStreamError",
    "HeadcastVideoGenerator",
    "LocalServer",
    "StreamOptions",
]
