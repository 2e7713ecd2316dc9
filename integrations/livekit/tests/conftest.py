"""One real ``headcast serve`` for the whole test session, started from the core's installation
(``$HEADCAST_COMMAND``, else the repository's own ``.venv``)."""

from __future__ import annotations

import os
from pathlib import Path

from headcast_client.testing import server, server_loop

__all__ = ["server", "server_loop"]

REPO = Path(__file__).resolve().parents[3]
os.environ.setdefault("HEADCAST_COMMAND", str(REPO / ".venv" / "bin" / "headcast"))
