"""Live lip-sync: audio pushed in any chunks at any rate → FaceMotion frames as soon as they are final.

A frame is final once the audio ``lookahead_ms`` past it has been decoded; it is then computed
from the phones known at that moment and never changes. Everything runs in fixed blocks, so
the same audio gives the same frames however it is chunked — a batch run is a stream whose
audio arrives at once.
"""

from __future__ import annotations

import numpy as np
import soxr

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.motion import tunables as T
from headcast.motion.face_motion import FaceMotion
from headcast.motion.idle import IdleMotion
from headcast.motion.mouth import mouth_curves
from headcast.phones.stream import BLOCK_MS, PhoneStream
from headcast.phones.track import PhoneTrack

DEFAULT_LOOKAHEAD_MS = 120.0
MAX_LOOKAHEAD_MS = 1000.0
MOUTH_CONTEXT_S = 0.8  # phones further back than this no longer shape the current frame
LOUDNESS_HISTORY_S = 10.0  # the loudness reference adapts over this window
NOD_EMA_S = 0.25
PHONE_HISTORY_MARGIN_S = 2.0  # phones kept beyond the mouth context, so none it sees is cut


class LiveLipSync:
    """Incremental speech → FaceMotion for one stream."""

    def __init__(
        self,
        fps: float = 25.0,
        *,
        lookahead_ms: float = DEFAULT_LOOKAHEAD_MS,
        seed: int = 0,
        head_motion: bool = True,
        fast: bool = True,
    ) -> None:
        if not 0 <= lookahead_ms <= MAX_LOOKAHEAD_MS:
            raise ValueError(f"lookahead_ms must be within 0–{MAX_LOOKAHEAD_MS:.0f}")
        self.fps = fps
        self.lookahead_s = lookahead_ms / 1000
        self.head_motion = head_motion
        self._phones = PhoneStream(fast=fast)
        self._idle = IdleMotion(seed)
        self._block = int(ANALYSIS_SAMPLE_RATE_HZ * BLOCK_MS / 1000)
        self._pending = np.zeros(0, np.float32)
        self._resampler: soxr.ResampleStream | None = None
        self._in_rate: int | None = None
        self._loud_db: list[float] = []  # per 10 ms
        self._nod = 0.0
        self._next_frame = 0
        self._finished = False

    @property
    def frames_emitted(self) -> int:
        return self._next_frame

    def push_audio(self, pcm: np.ndarray, sample_rate: int) -> list[tuple[int, FaceMotion]]:
        """Add audio (int16 or float, mono); returns the frames that became final, in order."""
        if self._finished:
            raise RuntimeError("push_audio after finish")
        samples = _as_float(pcm)
        if sample_rate != ANALYSIS_SAMPLE_RATE_HZ:
            if self._in_rate != sample_rate:
                self._flush_resampler()
                self._resampler = soxr.ResampleStream(
                    sample_rate, ANALYSIS_SAMPLE_RATE_HZ, 1, dtype="float32"
                )
                self._in_rate = sample_rate
            samples = self._resampler.resample_chunk(samples)
        else:
            self._flush_resampler()
        return self._feed(samples)

    def emit_now(self, n_frames: int) -> list[tuple[int, FaceMotion]]:
        """Make frames up to ``n_frames`` final now, from the audio decoded so far.

        For transports that must answer each audio chunk before the next arrives: the last
        frames see less than ``lookahead_ms`` ahead (the very last none), instead of waiting.
        """
        if self._finished or n_frames <= self._next_frame:
            return []
        return self._emit_until(n_frames, self._recent_phones())

    def close(self) -> None:
        """Stop without finishing (the speech was interrupted): free the phone recognizer."""
        self._finished = True
        self._phones.close()

    def finish(self) -> list[tuple[int, FaceMotion]]:
        """End of the audio: every remaining frame up to its end."""
        self._flush_resampler()
        frames = self._feed(np.zeros(0, np.float32))
        if len(self._pending):
            self._measure_loudness(self._pending)
            self._phones.push(self._pending)
            self._pending = np.zeros(0, np.float32)
        self._phones.finish()
        self._finished = True
        end_s = self._phones.decoded_s
        n_total = max(int(round(end_s * self.fps)), self._next_frame)
        frames += self._emit_until(n_total, self._recent_phones())
        return frames

    def _flush_resampler(self) -> None:
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros(0, np.float32), last=True)
            self._resampler = None
            self._in_rate = None
            self._pending = np.concatenate([self._pending, tail])

    def _feed(self, samples: np.ndarray) -> list[tuple[int, FaceMotion]]:
        self._pending = np.concatenate([self._pending, samples])
        out: list[tuple[int, FaceMotion]] = []
        while len(self._pending) >= self._block:
            block, self._pending = self._pending[: self._block], self._pending[self._block :]
            self._measure_loudness(block)
            self._phones.push(block)
            ready = int(np.floor((self._phones.decoded_s - self.lookahead_s) * self.fps + 1e-9)) + 1
            if ready > self._next_frame:
                out += self._emit_until(ready, self._recent_phones())
        return out

    def _recent_phones(self) -> PhoneTrack:
        """The phones the frames still to come can see (older ones would cost time per frame
        in a long stream, growing without end)."""
        return self._phones.track(
            since_s=self._next_frame / self.fps - MOUTH_CONTEXT_S - PHONE_HISTORY_MARGIN_S
        )

    def _measure_loudness(self, block: np.ndarray) -> None:
        hop = ANALYSIS_SAMPLE_RATE_HZ // T.CURVE_RATE_HZ
        frames = block[: len(block) // hop * hop].reshape(-1, hop).astype(np.float64)
        self._loud_db.extend((10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)).tolist())

    def _loudness(self, start: int, end: int) -> np.ndarray:
        """Loudness in [0, 1] for 10 ms steps ``start … end``, against the recent loud level."""
        history = int(LOUDNESS_HISTORY_S * T.CURVE_RATE_HZ)
        ref_window = np.array(self._loud_db[max(end - history, 0) : end] or [0.0])
        loud = float(np.percentile(ref_window, 95))
        db = np.array(self._loud_db[start:end] or [loud - 30.0])
        return np.clip((db - (loud - 30.0)) / 30.0, 0.0, 1.0)

    def _emit_until(self, n_frames: int, track: PhoneTrack) -> list[tuple[int, FaceMotion]]:
        out = []
        for i in range(self._next_frame, n_frames):
            t = i / self.fps
            window = tuple(p for p in track.phones if p.end_s > t - MOUTH_CONTEXT_S)
            local = PhoneTrack(window, track.duration_s, track.source)
            # Only the recent loudness shapes the frame: pass that, not the whole history.
            end = len(self._loud_db)
            lo = max(int((t - MOUTH_CONTEXT_S) * T.CURVE_RATE_HZ), 0)
            if lo < end:
                loudness, start = self._loudness(lo, end)[: end - lo].astype(np.float32), lo
            else:  # nothing measured this recently: silence
                loudness, start = np.zeros(min(end, 1), np.float32), max(end - 1, 0)
            mouth = mouth_curves(local, loudness, self.fps, 1, first_frame=i, loudness_start=start)
            level = float(self._loudness(int(t * T.CURVE_RATE_HZ), int(t * T.CURVE_RATE_HZ) + 1)[0])
            self._nod += (level - self._nod) * min(1.0 / (NOD_EMA_S * self.fps), 1.0)
            yaw, pitch, roll = self._idle.sway_deg(t) if self.head_motion else (0.0, 0.0, 0.0)
            if self.head_motion:
                pitch += T.HEAD_NOD_DEG * self._nod
            gaze_x, gaze_y = self._idle.gaze(t)
            out.append(
                (
                    i,
                    FaceMotion(
                        **{name: float(v[0]) for name, v in mouth.items()},
                        blink=self._idle.blink(t),
                        gaze_x=gaze_x,
                        gaze_y=gaze_y,
                        head_yaw_deg=yaw,
                        head_pitch_deg=pitch,
                        head_roll_deg=roll,
                    ),
                )
            )
        self._next_frame = max(self._next_frame, n_frames)
        return out


def _as_float(pcm: np.ndarray) -> np.ndarray:
    x = np.asarray(pcm)
    if x.ndim > 1:
        x = x.mean(axis=1) if x.shape[1] <= 8 else x.reshape(-1)
    if x.dtype == np.int16:
        return (x.astype(np.float32) / 32768.0).astype(np.float32)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)).astype(np.float32)
    return x.astype(np.float32)
