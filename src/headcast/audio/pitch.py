"""Pitch (F0) tracking, and the steadiness of pitch that tells held musical notes from speech."""

from __future__ import annotations

import numpy as np

from headcast.audio.frames import (
    ANALYSIS_BLOCK_FRAMES,
    block_bounds,
    centered_frame_count,
    centered_frames,
)

PITCH_HOP_MS = 10.0
PITCH_WINDOW_MS = 40.0
PITCH_MIN_HZ = 70.0
PITCH_MAX_HZ = 400.0
VOICING_MIN_CORRELATION = 0.45
VOICING_MIN_DBFS = -45.0
STEADY_STEP_OCTAVES = 0.01  # frame-to-frame change below this is a held note
STEADY_MIN_MS = 100.0  # pitch held this long is rare in speech, the rule in music


def pitch_hz(
    samples: np.ndarray, sample_rate: int, *, block_frames: int = ANALYSIS_BLOCK_FRAMES
) -> np.ndarray:
    """F0 per 10 ms hop (NaN where unvoiced) from the normalised autocorrelation of each frame.

    Frames are analysed ``block_frames`` at a time: the result is the same for any block size.
    """
    hop = max(int(round(sample_rate * PITCH_HOP_MS / 1000)), 1)
    win = max(int(round(sample_rate * PITCH_WINDOW_MS / 1000)), hop)
    lo = int(sample_rate / PITCH_MAX_HZ)
    hi = min(int(sample_rate / PITCH_MIN_HZ), win - 1)
    # Zero-padding to win + hi keeps every lag up to hi free of circular wrap-around.
    n_fft = 1 << int(np.ceil(np.log2(win + hi + 1)))
    taper = np.hanning(win)
    n = centered_frame_count(len(samples), hop)
    f0 = np.empty(n, np.float32)
    for first, stop in block_bounds(n, block_frames):
        frames = centered_frames(samples, hop, win, first, stop)
        level_db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        frames -= frames.mean(axis=1, keepdims=True)
        frames *= taper
        spectra = np.fft.rfft(frames, n_fft, axis=1)
        del frames
        acf = np.fft.irfft(np.abs(spectra) ** 2, n_fft, axis=1)[:, : hi + 1]
        del spectra
        acf = acf / (acf[:, :1] + 1e-12)
        lag = lo + np.argmax(acf[:, lo:hi], axis=1)
        peak = acf[np.arange(len(acf)), lag]
        voiced = (peak >= VOICING_MIN_CORRELATION) & (level_db > VOICING_MIN_DBFS)
        f0[first:stop] = np.where(voiced, sample_rate / lag.astype(np.float64), np.nan)
    return f0


def steady_pitch_mask(f0: np.ndarray) -> np.ndarray:
    """Frames inside runs of near-constant pitch lasting at least ``STEADY_MIN_MS``."""
    voiced = np.isfinite(f0)
    log_f0 = np.log2(np.where(voiced, f0, 1.0))
    step_ok = (np.abs(np.diff(log_f0)) < STEADY_STEP_OCTAVES) & voiced[1:] & voiced[:-1]
    flags = np.concatenate(([False], step_ok))
    edges = np.flatnonzero(np.diff(np.concatenate(([0], flags.view(np.int8), [0]))))
    out = np.zeros(len(f0), bool)
    min_len = int(STEADY_MIN_MS / PITCH_HOP_MS)
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= min_len:
            out[max(start - 1, 0) : end] = True
    return out
