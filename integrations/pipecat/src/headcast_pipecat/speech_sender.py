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
# Of speech a message; the server takes in a message whole before making frames of it, so a
# turn sent at once would delay its first frame. 10× real time at the interval above.
MAX_MESSAGE_S = 0.2
_END_SEGMENT = object()


class SpeechSender:
    def __init__(
        self,
        stream: AvatarStream,
        sample_rate_hz: int,
        on_error: Callable[[AvatarStreamError], Awaitable[None]],
    ) -> None:
        self._stream = stream
        self._max_samples = int(sample_rate_hz * MAX_MESSAGE_S)
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
        for start in range(0, len(pcm), self._max_samples):
            self._waiting.append(pcm[start : start + self._max_samples])
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
                    joined = 0
                    while self._waiting and self._waiting[0] is not _END_SEGMENT:
                        chunk: np.ndarray = self._waiting[0]  # type: ignore[assignment]
                        if audio and joined + len(chunk) > self._max_samples:
                            break
                        audio.append(chunk)
                        joined += len(chunk)
                        self._waiting.popleft()
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
