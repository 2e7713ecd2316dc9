"""``headcast serve``: the HTTP, WebSocket and WebRTC service and its web pages.

Routes live one concern per module; ``app.create_app`` assembles them. Nothing below the
server imports it.
"""

from headcast.server.app import create_app
from headcast.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
