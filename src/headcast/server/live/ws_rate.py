"""Per-connection message and byte rates of a WebSocket: token buckets a client may not overdraw.

Without them one connection's flood of tiny messages (or pings) keeps the event loop handling
its messages while every other stream waits for its frames.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from headcast.server.config import ServerConfig


@dataclass
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate_per_s``; a take beyond what is there fails."""

    rate_per_s: float
    capacity: float
    tokens: float = -1.0  # full at first
    updated_s: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def take(self, amount: float, now_s: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now_s - self.updated_s) * self.rate_per_s)
        self.updated_s = now_s
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


class ConnectionRate:
    """What one WebSocket connection may still send: messages and bytes per second.

    The bursts admit a second's worth of messages and one message of the largest size allowed
    (a portrait sent as base64), so an honest client is never cut off by its start message.
    """

    def __init__(self, messages_per_s: float, bytes_per_s: float, max_message_bytes: int) -> None:
        self.messages_per_s = messages_per_s
        self.bytes_per_s = bytes_per_s
        self._messages = TokenBucket(messages_per_s, max(1.0, messages_per_s))
        self._bytes = TokenBucket(bytes_per_s, max(bytes_per_s, float(max_message_bytes)))

    @classmethod
    def for_config(cls, config: ServerConfig, max_message_bytes: int) -> ConnectionRate:
        return cls(config.ws_messages_per_s, config.ws_bytes_per_s, max_message_bytes)

    def over_limit(self, size_bytes: int) -> str | None:
        """Count one message of ``size_bytes``; why it is over the limits, or None."""
        now_s = time.monotonic()
        if not self._messages.take(1, now_s):
            return f"more than {self.messages_per_s:g} messages per second"
        # A message over the size limit is refused as too large, not as too fast.
        if not self._bytes.take(min(size_bytes, self._bytes.capacity), now_s):
            return f"more than {self.bytes_per_s:g} bytes per second"
        return None
