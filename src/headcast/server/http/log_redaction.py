"""API keys never reach a log line: ``api_key=...`` is redacted from every record of the
server's loggers (uvicorn's access log and its WebSocket lines print query strings)."""

from __future__ import annotations

import logging
import re

# ``api_key`` also percent-encoded (``api%5Fkey``), in any case; the value up to the next
# query separator, quote or space.
_QUERY_KEY = re.compile(r"(api(?:_|%5f)key=)[^&\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"
# uvicorn logs requests and WebSocket handshakes here; headcast's own loggers sit under
# "headcast"; the root logger's handlers see whatever else propagates.
REDACTED_LOGGERS = ("uvicorn", "uvicorn.access", "uvicorn.error", "headcast", "")


def redact(text: str) -> str:
    return _QUERY_KEY.sub(r"\1" + REDACTED, text)


class RedactApiKeys(logging.Filter):
    """Rewrites the message and its string arguments; formatting is left to the handlers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


def install_log_redaction() -> None:
    """Put the filter on the server's loggers and on every handler they write to (a logger's
    own filters do not see records of its child loggers; its handlers do). Idempotent."""
    for name in REDACTED_LOGGERS:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(f, RedactApiKeys) for f in target.filters):
                target.addFilter(RedactApiKeys())
