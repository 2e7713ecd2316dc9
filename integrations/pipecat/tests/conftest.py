"""One real ``headcast serve`` for the whole test session, started from the core's installation
(``$HEADCAST_COMMAND``, else the repository's own ``.venv``)."""

from __future__ import annotations

import os

from headcast_client.testing import server, server_loop

from pipeline_material import REPO

__all__ = ["server", "server_loop"]

os.environ.setdefault("HEADCAST_COMMAND", str(REPO / ".venv" / "bin" / "headcast"))
