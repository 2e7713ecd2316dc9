"""Which 40 ms blocks of a stream are voice: loud enough above a running noise floor, not
flat like hiss, not the held notes of music. Judged block by block, as audio is heard, so that
a live stream and a clip known beforehand are judged alike."""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.audio.pitch import pitch_hz, steady_pitch_mask
from headcast.audio.vad import (
    MUSIC_STEADY_SHARE,
    MUSIC_WINDOW_S,
    SPEECH_ABOVE_NOISE_DB,
    SPEECH_MIN_DBFS,
    VAD_FRAME_MS,
)

BLOCK_MS = 40.0  # one video frame at 25 fps
NOISE_FLOOR_INIT_DBFS = -60.0
NOISE_FLOOR_RISE_DB_PER_S = 3.0  # the floor follows quiet frames at once and loud ones slowly
# The floor starts this far under the first block's quietest frame (never under the initial
# floor): noise present from the start is then no speech. On 8 s of room noise or music alone
# the mouth rested on 85 % of frames, against 5 % from the fixed floor; clean speech: -0.2
# points of shape agreement, at 10 dB SNR: -0.8.
NOISE_FLOOR_BELOW_FIRST_DB = 9.0
MUSIC_LEAVE_SHARE = 0.3
PITCH_CONTEXT_MS = 40.0  # audio before each block that its pitch frames need
MAX_SPEECH_FLATNESS = 0.35  # flatter blocks are noise (hiss, fans, rain), not voice
SAMPLE_RATE = ANALYSIS_SAMPLE_RATE_HZ
_HOP = int(SAMPLE_RATE * VAD_FRAME_MS / 1000)


def _spectral_flatness(block: np.ndarray) -> float:
    """Geometric over arithmetic mean of the power spectrum: ~0.56 for white noise, far lower
    for voice."""
    power = np.abs(np.fft.rfft(block.astype(np.float64) * np.hanning(len(block)))) ** 2 + 1e-18
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


class VoiceGate:
    """Judges the blocks of one stream of 16 kHz mono float32 audio, in order."""

    def __init__(self) -> None:
        self._noise_floor_db = NOISE_FLOOR_INIT_DBFS
        self._first = True
        self.music_now = False  # the last block judged was music
        self._context = np.zeros(int(SAMPLE_RATE * PITCH_CONTEXT_MS / 1000), np.float32)
        self._f0_history = np.full(int(MUSIC_WINDOW_S * 1000 / VAD_FRAME_MS), np.nan, np.float32)

    def is_voice(self, block: np.ndarray) -> bool:
        """Whether the next ``BLOCK_MS`` of audio is voice."""
        frames = block[: len(block) // _HOP * _HOP].reshape(-1, _HOP).astype(np.float64)
        levels = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        quietest = float(levels.min())
        if self._first:
            self._noise_floor_db = max(self._noise_floor_db, quietest - NOISE_FLOOR_BELOW_FIRST_DB)
            self._first = False
        loud = (levels > self._noise_floor_db + SPEECH_ABOVE_NOISE_DB) & (levels > SPEECH_MIN_DBFS)
        rise = NOISE_FLOOR_RISE_DB_PER_S * BLOCK_MS / 1000
        self._noise_floor_db = min(quietest, self._noise_floor_db + rise)
        self.music_now = self._music(block)
        return (
            bool(loud.sum() >= 2)
            and _spectral_flatness(block) < MAX_SPEECH_FLATNESS
            and not self.music_now
        )

    def _music(self, block: np.ndarray) -> bool:
        """Held notes over the last second: music, not voice (see ``audio.vad.music_mask``)."""
        audio = np.concatenate([self._context, block])
        self._context = audio[-len(self._context) :]
        hops = len(block) // _HOP
        f0 = pitch_hz(audio, SAMPLE_RATE)
        first = len(self._context) // _HOP
        self._f0_history = np.concatenate([self._f0_history, f0[first : first + hops]])[
            -len(self._f0_history) :
        ]
        voiced = np.isfinite(self._f0_history)
        if voiced.sum() < 0.2 * len(voiced):
            return False  # too little voiced sound to be either
        share = steady_pitch_mask(self._f0_history).sum() / voiced.sum()
        # Hysteresis: once music is heard, it takes clearly unsteady pitch to leave it.
        threshold = MUSIC_LEAVE_SHARE if self.music_now else MUSIC_STEADY_SHARE
        return bool(share > threshold)


def voice_frames(samples: np.ndarray) -> np.ndarray:
    """Whether each ``VAD_FRAME_MS`` frame of 16 kHz mono audio lies in a block of voice
    (``VoiceGate``, the clip judged from its start), as ``audio.vad.speech_mask`` gives them."""
    x = np.asarray(samples, np.float32)
    block = int(SAMPLE_RATE * BLOCK_MS / 1000)
    gate = VoiceGate()
    blocks = np.zeros(-(-len(x) // block), bool)
    for index in range(len(blocks)):
        piece = x[index * block : (index + 1) * block]
        blocks[index] = gate.is_voice(np.pad(piece, (0, block - len(piece))))
    return np.repeat(blocks, block // _HOP)[: len(x) // _HOP]
