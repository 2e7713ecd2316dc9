"""Remote engines: SoulX-FlashHead (or any OmniRT avatar model) served on another host, over
the OmniRT realtime-avatar WebSocket protocol or its HTTP fragment generation."""

from headcast.render.remote.endpoint import RemoteEndpoint

__all__ = ["RemoteEndpoint"]
