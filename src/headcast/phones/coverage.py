"""How much of the speech a transcript placed: aligned, guided or recognized freely."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TranscriptCoverage:
    """Seconds of speech whose phones came from each way of using a transcript.

    ``aligned_s``: forced alignment of the transcript's own words, in their order;
    ``guided_s``: recognition limited to the transcript's words (extra, missing or reordered
    words); ``free_s``: recognition of phones without the transcript (speech it has no words
    for). Speech is what voice-activity detection hears; pauses count nowhere.
    """

    aligned_s: float = 0.0
    guided_s: float = 0.0
    free_s: float = 0.0

    @property
    def speech_s(self) -> float:
        return self.aligned_s + self.guided_s + self.free_s

    def share(self, seconds: float) -> float:
        return seconds / self.speech_s if self.speech_s > 0 else 0.0

    @property
    def aligned_share(self) -> float:
        """Share of the speech aligned; 1.0 when the transcript fitted it all (or no speech)."""
        return self.share(self.aligned_s) if self.speech_s > 0 else 1.0

    @property
    def complete(self) -> bool:
        """Every second of speech was aligned."""
        return self.guided_s == 0.0 and self.free_s == 0.0

    def __add__(self, other: TranscriptCoverage) -> TranscriptCoverage:
        return TranscriptCoverage(
            self.aligned_s + other.aligned_s,
            self.guided_s + other.guided_s,
            self.free_s + other.free_s,
        )

    def as_dict(self) -> dict[str, float]:
        """Seconds and shares, rounded for reports (``--json``, the REST API)."""
        return {
            "speech_s": round(self.speech_s, 3),
            "aligned_s": round(self.aligned_s, 3),
            "guided_s": round(self.guided_s, 3),
            "free_s": round(self.free_s, 3),
            "aligned_share": round(self.aligned_share, 4),
            "guided_share": round(self.share(self.guided_s), 4),
            "free_share": round(self.share(self.free_s), 4),
        }

    def summary(self) -> str:
        """One line for a warning: ``62 % aligned, 30 % guided, 8 % recognized freely``."""
        return (
            f"{100 * self.aligned_share:.0f} % of {self.speech_s:.1f} s of speech aligned, "
            f"{100 * self.share(self.guided_s):.0f} % guided by its words, "
            f"{100 * self.share(self.free_s):.0f} % recognized freely"
        )
