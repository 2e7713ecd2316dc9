"""Voice activity: which 10 ms frames hold speech, so that silence, breath and steady
background noise stay silence whatever a recognizer makes of them."""

from __future__ import annotations

import numpy as np

from headcast.audio.frames import ANALYSIS_BLOCK_FRAMES, mean_square_per_window

VAD_FRAME_MS = 10.0
SPEECH_ABOVE_NOISE_DB = 12.0  # speech stands this far above the noise floor
SPEECH_MIN_DBFS = -50.0  # nothing quieter than this is speech
NOISE_FLOOR_PERCENTILE = 10.0
HANGOVER_MS = 120.0  # keep "speech" this long after the level drops, for weak word endings
MIN_SPEECH_MS = 60.0  # bursts shorter than this (clicks, pops) are not speech


def frame_levels_db(
    samples: np.ndarray, sample_rate: int, *, block_frames: int = ANALYSIS_BLOCK_FRAMES
) -> np.ndarray:
    """RMS level of each 10 ms frame in dBFS, measured ``block_frames`` at a time."""
    hop = int(sample_rate * VAD_FRAME_MS / 1000)
    if len(samples) // hop == 0:
        return np.zeros(0, np.float32)
    mean_square = mean_square_per_window(samples, hop, block_frames)
    return (10 * np.log10(mean_square + 1e-12)).astype(np.float32)


def speech_mask(levels_db: np.ndarray, noise_floor_db: float | None = None) -> np.ndarray:
    """Speech flags per frame from frame levels; the floor is estimated when not given."""
    if len(levels_db) == 0:
        return np.zeros(0, bool)
    floor = (
        float(np.percentile(levels_db, NOISE_FLOOR_PERCENTILE))
        if noise_floor_db is None
        else noise_floor_db
    )
    loud = (levels_db > floor + SPEECH_ABOVE_NOISE_DB) & (levels_db > SPEECH_MIN_DBFS)
    loud = _drop_short_runs(loud, int(MIN_SPEECH_MS / VAD_FRAME_MS))
    hang = int(HANGOVER_MS / VAD_FRAME_MS)
    if hang and loud.any():
        # Extend each speech run by the hangover: a running maximum over the last `hang` frames.
        idx = np.where(loud, np.arange(len(loud)), -(10**9))
        last_loud = np.maximum.accumulate(idx)
        loud = (np.arange(len(loud)) - last_loud) <= hang
    return loud


def _drop_short_runs(mask: np.ndarray, min_len: int) -> np.ndarray:
    if min_len <= 1 or not mask.any():
        return mask
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    out = mask.copy()
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start < min_len:
            out[start:end] = False
    return out


MUSIC_WINDOW_S = 1.0
MUSIC_STEADY_SHARE = (
    0.65  # of voiced frames on held notes, over 1 s: speech measured ≤ 0.54, music ≥ 0.7
)


def music_mask(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per 10 ms frame: True where the sound around it is held musical notes rather than voice."""
    from headcast.audio.pitch import pitch_hz, steady_pitch_mask

    f0 = pitch_hz(samples, sample_rate)
    n = len(samples) // int(sample_rate * VAD_FRAME_MS / 1000)
    f0 = f0[:n]
    if n == 0:
        return np.zeros(0, bool)
    voiced = np.isfinite(f0).astype(np.float64)
    steady = steady_pitch_mask(f0).astype(np.float64)
    width = max(int(MUSIC_WINDOW_S * 1000 / VAD_FRAME_MS), 1)
    kernel = np.ones(width)
    voiced_sum = np.convolve(voiced, kernel, mode="same")
    steady_sum = np.convolve(steady, kernel, mode="same")
    return (steady_sum / np.maximum(voiced_sum, 1.0) > MUSIC_STEADY_SHARE) & (
        voiced_sum > 0.2 * width
    )


def voice_mask(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """Speech frames: loud enough above the noise, and not music."""
    speech = speech_mask(frame_levels_db(samples, sample_rate))
    music = music_mask(samples, sample_rate)[: len(speech)]
    speech[: len(music)] &= ~music
    return speech
