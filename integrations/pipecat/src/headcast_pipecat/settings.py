"""The avatar's rendering settings, in pipecat's settings form (a store when the service holds
it, a sparse delta in an update frame)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pipecat.services.settings import ServiceSettings
from pipecat.utils.types import NOT_GIVEN, NotGiven

# The rates the server sends back with frames; another pipeline rate gets the highest and the
# output transport resamples it.
SERVER_OUTPUT_RATES_HZ = (16_000, 24_000, 48_000)


@dataclass
class HeadcastVideoSettings(ServiceSettings):
    """Parameters:
    fps: frames per second of the video (5–60).
    size_px: width and height of the square video (even, 128–1024).
    head_motion: 0 (still) to 1 (liveliest); None: the server's default.
    jpeg_quality: of the frames on the wire (10–100).
    seed: of blinks and head motion.
    engine: the server's renderer by name; None: the avatar's own.
    output_sample_rate_hz: of the audio emitted with the frames (16000, 24000 or 48000);
        None: the pipeline's output rate where the server offers it, else 48000.
    """

    fps: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    size_px: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    head_motion: float | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)
    jpeg_quality: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    seed: int | NotGiven = field(default_factory=lambda: NOT_GIVEN)
    engine: str | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)
    output_sample_rate_hz: int | NotGiven | None = field(default_factory=lambda: NOT_GIVEN)


def default_settings() -> HeadcastVideoSettings:
    """A complete store: 512² at 25 fps, the server's head motion."""
    return HeadcastVideoSettings(
        model=None,
        fps=25,
        size_px=512,
        head_motion=None,
        jpeg_quality=80,
        seed=0,
        engine=None,
        output_sample_rate_hz=None,
    )


def output_rate_for(settings: HeadcastVideoSettings, pipeline_rate_hz: int) -> int:
    chosen = settings.output_sample_rate_hz
    if isinstance(chosen, int):
        return chosen
    return (
        pipeline_rate_hz
        if pipeline_rate_hz in SERVER_OUTPUT_RATES_HZ
        else max(SERVER_OUTPUT_RATES_HZ)
    )
