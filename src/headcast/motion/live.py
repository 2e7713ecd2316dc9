"""Speech → FaceMotion as the audio arrives, for a file and a live stream alike.

Audio is pushed in any chunks at any rate; it is cut into fixed 40 ms blocks whatever the
pushes, each block is measured (loudness, pitch) and handed to the phone source, and then
every frame the speech heard so far makes final is built (``MotionBuilder``). The same audio,
phone source, look-ahead and seed therefore give the same frames however the audio is
chunked — a file is a stream whose audio arrives at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import soxr

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.motion import tunables as T
from headcast.motion.builder import MotionBuilder
from headcast.motion.face_motion import FaceMotion
from headcast.motion.head_intensity import head_motion_intensity
from headcast.motion.prosody import STEP_SAMPLES, ProsodyStream
from headcast.phones.source import PhoneSource
from headcast.phones.stream import BLOCK_MS, PhoneStream

DEFAULT_LOOKAHEAD_MS = T.LOOKAHEAD_MS
MAX_LOOKAHEAD_MS = T.MAX_LOOKAHEAD_MS
PHONE_HISTORY_MARGIN_S = 2.0  # phones kept beyond the mouth context, so none it sees is cut

Frames = list[tuple[int, FaceMotion]]


class LiveLipSync:
    """Incremental speech → FaceMotion for one stretch of speech.

    Phones come from ``phones`` (recognized from the audio by default, with the fast
    recognizer when ``fast``); the head moves with intensity ``head_motion``, 0 (still) to 1.
    """

    def __init__(
        self,
        fps: float = 25.0,
        *,
        lookahead_ms: float = DEFAULT_LOOKAHEAD_MS,
        seed: int = 0,
        head_motion: float | bool = T.HEAD_MOTION_DEFAULT,
        fast: bool = True,
        phones: PhoneSource | None = None,
    ) -> None:
        if not 0 <= lookahead_ms <= MAX_LOOKAHEAD_MS:
            raise ValueError(f"lookahead_ms must be within 0–{MAX_LOOKAHEAD_MS:.0f}")
        self.fps = fps
        self.lookahead_s = lookahead_ms / 1000
        self.head_motion = head_motion_intensity(head_motion)
        self._phones: PhoneSource = phones if phones is not None else PhoneStream(fast=fast)
        self._builder = MotionBuilder(
            fps, seed=seed, head_motion=self.head_motion, lookahead_s=self.lookahead_s
        )
        self._prosody = ProsodyStream()
        self._block = int(ANALYSIS_SAMPLE_RATE_HZ * BLOCK_MS / 1000)
        self._pending = np.zeros(0, np.float32)
        self._heard = 0  # samples measured and handed to the phones
        self._resampler: soxr.ResampleStream | None = None
        self._in_rate: int | None = None
        self._finished = False

    @property
    def frames_emitted(self) -> int:
        return self._builder.frames_made

    @property
    def phones(self) -> PhoneSource:
        return self._phones

    def push_audio(self, pcm: np.ndarray, sample_rate: int) -> Frames:
        """Add audio (int16 or float, mono); returns the frames that became final, in order."""
        if self._finished:
            raise RuntimeError("push_audio after finish")
        samples = _as_float(pcm)
        if sample_rate != ANALYSIS_SAMPLE_RATE_HZ:
            resampler = self._resampler
            if resampler is None or self._in_rate != sample_rate:
                self._flush_resampler()
                resampler = soxr.ResampleStream(
                    sample_rate, ANALYSIS_SAMPLE_RATE_HZ, 1, dtype="float32"
                )
                self._resampler, self._in_rate = resampler, sample_rate
            samples = resampler.resample_chunk(samples)
        else:
            self._flush_resampler()
        return self._feed(samples)

    def emit_now(self, n_frames: int) -> Frames:
        """Make frames up to ``n_frames`` final now, from the audio decoded so far.

        For transports that must answer each audio chunk before the next arrives: the last
        frames see less than ``lookahead_ms`` ahead (the very last none), instead of waiting.
        """
        if self._finished or n_frames <= self.frames_emitted:
            return []
        return self._make(n_frames)

    def close(self) -> None:
        """Stop without finishing (the speech was interrupted): free the phone source."""
        self._finished = True
        self._phones.close()

    def hear_more_phones(self) -> Frames:
        """Wait for the phone source to know more (a clip's next piece of phones); returns
        the frames that made final."""
        self._phones.wait()
        return self._make(self._builder.ready(self._known_s()))

    def finish(self) -> Frames:
        """End of the audio: every remaining frame up to its end."""
        return [frame for step in self.finish_stepwise() for frame in step]

    def finish_stepwise(self) -> Iterator[Frames]:
        """End of the audio: the remaining frames, a batch each time the phone source knows
        more (a clip's phones found a piece at a time), so a caller can use the first frames
        while the rest are found."""
        self._flush_resampler()
        yield self._feed(np.zeros(0, np.float32))
        if len(self._pending):
            tail = len(self._pending)
            self._prosody.push(np.pad(self._pending, (0, -tail % STEP_SAMPLES)))
            self._phones.push(self._pending)
            self._heard += tail
            self._pending = np.zeros(0, np.float32)
        self._phones.finish()
        self._finished = True
        while not self._phones.complete:
            yield self.hear_more_phones()
        yield self._make(max(int(round(self._heard / ANALYSIS_SAMPLE_RATE_HZ * self.fps)), 1))
        self._phones.close()

    def _known_s(self) -> float:
        return min(self._phones.known_s, self._heard / ANALYSIS_SAMPLE_RATE_HZ)

    def _flush_resampler(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            self._resampler = None
            self._in_rate = None
            self._pending = np.concatenate([self._pending, tail])

    def _feed(self, samples: np.ndarray) -> Frames:
        self._pending = np.concatenate([self._pending, samples])
        out: Frames = []
        # Measured in one go (a block's values do not depend on what follows it), then
        # heard block by block.
        self._prosody.push(self._pending[: len(self._pending) // self._block * self._block])
        while len(self._pending) >= self._block:
            block, self._pending = self._pending[: self._block], self._pending[self._block :]
            self._phones.push(block)
            self._heard += len(block)
            ready = self._builder.ready(self._known_s())
            if ready > self.frames_emitted:
                out += self._make(ready)
        return out

    def _make(self, n_frames: int) -> Frames:
        first_s = self.frames_emitted / self.fps
        track = self._phones.track(
            first_s - T.MOUTH_CONTEXT_S - PHONE_HISTORY_MARGIN_S,
            n_frames / self.fps + self.lookahead_s + PHONE_HISTORY_MARGIN_S,
        )
        made = self._builder.make(n_frames, track, self._known_s(), self._prosody)
        # The next frame looks back no further than its mouth context.
        oldest_s = self.frames_emitted / self.fps - T.MOUTH_CONTEXT_S - PHONE_HISTORY_MARGIN_S
        self._prosody.forget_before(int(oldest_s * T.CURVE_RATE_HZ))
        return made


def _as_float(pcm: np.ndarray) -> np.ndarray:
    x = np.asarray(pcm)
    if x.ndim > 1:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.reshape(-1)
    if x.dtype == np.int16:
        return (x.astype(np.float32) / 32768.0).astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)).astype(np.float32)
    return x.astype(np.float32)
