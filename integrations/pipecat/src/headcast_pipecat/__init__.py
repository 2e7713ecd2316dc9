"""headcast's talking head as a pipecat video service, from a ``headcast serve`` on another
host (remote mode) or one started beside the agent (local mode)."""

from headcast_pipecat.settings import HeadcastVideoSettings
from headcast_pipecat.video_service import HeadcastVideoService

__all__ = ["HeadcastVideoService", "HeadcastVideoSettings"]
