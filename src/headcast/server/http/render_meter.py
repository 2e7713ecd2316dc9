"""Counting rendered frames for /metrics from ``animate``'s progress callback."""

from __future__ import annotations

import time

from headcast.server.http.metrics import record_render

METER_INTERVAL_S = 0.25  # how often rendered frames are added to the metrics


class RenderMeter:
    """An ``animate`` progress callback that reports frames and rendering time in batches.

    Timing starts at the first frame: the audio analysis before it is not rendering.
    """

    def __init__(self) -> None:
        self.frames_counted = 0
        self.counted_at = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done <= 1:
            self.frames_counted, self.counted_at = done, now
            return
        if done < total and now - self.counted_at < METER_INTERVAL_S:
            return
        record_render(done - self.frames_counted, now - self.counted_at)
        self.frames_counted, self.counted_at = done, now
