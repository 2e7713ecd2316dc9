"""Speech to the avatar in as few messages as keep it flowing: a TTS hands over audio in
chunks of ~20 ms, often much faster than real time, and the server refuses a connection that
sends more than 200 messages a second (``rate_limited``). Chunks waiting while a message goes
out are joined into the next one; turn ends keep their place among them; an interrupt drops
what is waiting and goes out as soon as the message in flight is sent."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

import numpy as np
from headcast_client import AvatarStream, AvatarStreamError

# At most 1 / this audio messages a second, far under the server's limit, and a chunk waits
# no longer than this (within one frame at 25 fps).
SEND_INTERVAL_S = 0.02
_END_SEGMENT = object()


class SpeechSender:
    def __init__(
        self, stream: AvatarStream, on_error: Callable[[AvatarStreamError], Awaitable[None]]
    ) -> None:
        self._stream = stream
        self._on_error = on_error
        self._waiting: deque[np.ndarray | object] = deque()
        self._ready = asyncio.Event()
        self._sending = asyncio.Lock()
        self._failed = False

    @property
    def idle(self) -> bool:
        """Nothing waiting or in flight."""
        return not self._waiting and not self._sending.locked()

    def push_audio(self, pcm: np.ndarray) -> None:
        self._waiting.append(pcm)
        self._ready.set()

    def end_segment(self) -> None:
        self._waiting.append(_END_SEGMENT)
        self._ready.set()

    async def interrupt(self) -> None:
        self._waiting.clear()
        async with self._sending:  # after the message in flight, which it then drops
            await self._send(self._stream.interrupt())

    async def run(self) -> None:
        """Sends until cancelled or the stream fails."""
        while not self._failed:
            await self._ready.wait()
            self._ready.clear()
            while self._waiting and not self._failed:
                async with self._sending:
                    audio: list[np.ndarray] = []
                    while self._waiting and self._waiting[0] is not _END_SEGMENT:
                        audio.append(self._waiting.popleft())  # type: ignore[arg-type]
                    if audio:
                        await self._send(self._stream.push_audio(np.concatenate(audio)))
                    elif self._waiting:
                        self._waiting.popleft()
                        await self._send(self._stream.end_segment())
                await asyncio.sleep(SEND_INTERVAL_S)

    async def _send(self, sending: Awaitable[None]) -> None:
        try:
            await sending
        except AvatarStreamError as error:
            self._failed = True
            self._waiting.clear()
            await self._on_error(error)
