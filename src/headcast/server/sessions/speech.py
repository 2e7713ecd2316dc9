"""Speech into a live session from text, audio files, raw PCM and the microphone.

Every source pushes through one ``LiveSpeech`` per session, so two requests never interleave
their audio in one segment, and an interrupt also stops speech that is still being pushed
(a long text is synthesized and pushed sentence by sentence while the first is shown).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import numpy as np

from headcast.live.backlog import AudioBacklog, BacklogFull
from headcast.live.protocol import LiveSession
from headcast.speech import Speech, synthesize_stream

# Audio is pushed in pieces this long: the session process analyses one piece at a time and
# shows its frames before the next, instead of analysing a whole sentence first.
PUSH_CHUNK_S = 0.2
# A reply longer than the backlog waits for playback to make room, this long past the time
# that playback needs, before the request is refused (nothing may be showing the session).
BACKLOG_WAIT_MARGIN_S = 5.0


class LiveSpeech:
    """The speech sources of one live session, serialised, with interrupt."""

    def __init__(self, session: LiveSession, backlog: AudioBacklog) -> None:
        self.session = session
        self.backlog = backlog
        self._lock = asyncio.Lock()
        self._generation = 0  # bumped by every interrupt; pushes of an older one stop

    @property
    def generation(self) -> int:
        return self._generation

    def interrupt(self) -> None:
        """Stop the avatar now and drop speech still being pushed."""
        self._generation += 1
        self.session.interrupt()

    async def push(
        self,
        samples: np.ndarray,
        sample_rate: int,
        *,
        end: bool,
        generation: int | None = None,
        refuse_when_full: bool = False,
    ) -> bool:
        """Queue mono audio (int16 or float); False when it was dropped: an interrupt came, or
        the session's backlog had no room for it. With ``refuse_when_full`` a full backlog
        raises ``BacklogFull`` instead (a client told to retry, not a microphone)."""
        generation = self._generation if generation is None else generation
        async with self._lock:
            try:
                return self._push_now(samples, sample_rate, end=end, generation=generation)
            except BacklogFull:
                if refuse_when_full:
                    raise
                return False

    async def end_segment(self) -> None:
        async with self._lock:
            self.session.end_segment()

    async def say(
        self,
        text: str,
        voice: str | None,
        *,
        rate_wpm: float | None = None,
        max_chars: int | None = None,
    ) -> float:
        """Speak ``text`` with the built-in voice; the seconds of speech queued.

        Bad text or voice raises ``InputError`` before anything is queued. A sentence that
        finds the backlog full waits for playback to make room; ``BacklogFull`` if it does not
        come in time (the sentences before it stay queued).
        """
        generation = self._generation
        pieces: Iterator[Speech] = await asyncio.to_thread(
            synthesize_stream, text, voice, rate_wpm=rate_wpm, max_chars=max_chars
        )
        queued_s = 0.0
        async with self._lock:
            while True:
                speech = await asyncio.to_thread(next, pieces, None)
                if speech is None:
                    break
                audio = speech.audio
                if not await self._push_when_room(audio.samples, audio.sample_rate, generation):
                    return queued_s
                queued_s += audio.duration_s
            if generation == self._generation:
                self.session.end_segment()
        return queued_s

    async def _push_when_room(self, samples: np.ndarray, sample_rate: int, generation: int) -> bool:
        """``_push_now``, after waiting for playback to make room for it if need be."""
        deadline: float | None = None
        while True:
            try:
                return self._push_now(samples, sample_rate, end=False, generation=generation)
            except BacklogFull as full:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + full.retry_after_s + BACKLOG_WAIT_MARGIN_S
                if not full.ever_fits or now >= deadline:
                    raise
                await asyncio.sleep(min(full.retry_after_s, deadline - now))

    def _push_now(
        self, samples: np.ndarray, sample_rate: int, *, end: bool, generation: int
    ) -> bool:
        """Queue the audio unless an interrupt came since ``generation`` (under the lock);
        ``BacklogFull`` before any of it is queued when it does not fit."""
        if generation != self._generation:
            return False
        self.backlog.check_room(len(samples) / sample_rate)
        step = max(1, int(PUSH_CHUNK_S * sample_rate))
        for start in range(0, len(samples), step):
            try:
                self.session.push_audio(samples[start : start + step], sample_rate)
            except RuntimeError:  # the session was closed meanwhile
                return False
        if end:
            self.session.end_segment()
        return True
