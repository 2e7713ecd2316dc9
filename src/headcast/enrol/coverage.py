"""What an enrolment got: usable seconds, the mouth shapes and visemes seen, what is missing,
and sentences to record that would show what is missing."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from headcast.motion.oculus_visemes import OCULUS_VISEMES

# A viseme or shape is covered when the atlas holds at least this many frames of it.
MIN_FRAMES_COVERED = 3

# Mouth shapes judged from the picture alone (opening and width in inter-ocular distances).
SHAPE_TESTS: dict[str, str] = {
    "closed": "lips together",
    "slightly open": "a narrow gap between the lips",
    "open": "jaw dropped as in 'a'",
    "wide open": "jaw dropped far, as in a loud 'ah'",
    "spread": "corners drawn wide, as in 'ee'",
    "rounded": "lips rounded forward, as in 'oo'",
    "teeth showing": "teeth seen between the lips",
}

# Sentences that are dense in each viseme: read aloud, they fill its gap in the atlas.
VISEME_SENTENCES: dict[str, str] = {
    "PP": "Bob bought a big blue map for my mom.",
    "FF": "Five fine vans of fresh fish arrived.",
    "TH": "They thought the three of them were thin.",
    "DD": "Ted did tell Dad to add the date.",
    "kk": "Kate got a good cake at the gate.",
    "CH": "Chuck's judge showed a huge sheep a cheap chair.",
    "SS": "Sam sees six sly snakes sitting still.",
    "nn": "Nine nice lions know the lane well.",
    "RR": "Rory ran around the red barrier.",
    "aa": "Father calmly parked the car by the dark hall.",
    "E": "Ed said the red bed was wet.",
    "I": "Please keep the key in the green tin.",
    "O": "The old boat goes slowly over the cold sea.",
    "U": "Two blue shoes would look good on you.",
}
SHAPE_SENTENCES: dict[str, str] = {
    "closed": "Mm, maybe. (Then rest a few seconds with the lips together.)",
    "slightly open": "It is in the list, isn't it?",
    "open": "Half past nine, I'm on my way.",
    "wide open": "Ah! What a large cat that was!",
    "spread": "Please keep the key in the green tin.",
    "rounded": "Two blue shoes would look good on you.",
    "teeth showing": "Cheese, please: the tea is sweet.",
}


@dataclass(frozen=True)
class CoverageReport:
    """What an enrolled avatar holds and lacks."""

    duration_s: float
    usable_s: float
    frames: int
    usable_frames: int
    has_speech: bool
    av_offset_s: float  # the clip's own offset of picture behind sound, undone
    shapes_covered: list[str] = field(default_factory=list)
    shapes_missing: list[str] = field(default_factory=list)
    visemes_covered: list[str] = field(default_factory=list)
    visemes_missing: list[str] = field(default_factory=list)
    script: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoverageReport:
        return cls(**data)

    def lines(self) -> list[str]:
        """The report as a person reads it."""
        out = [
            f"usable: {self.usable_s:.1f} s of {self.duration_s:.1f} s "
            f"({self.usable_frames} of {self.frames} frames)",
            f"mouth shapes: {len(self.shapes_covered)} of {len(SHAPE_TESTS)} seen"
            + (f"; missing: {', '.join(self.shapes_missing)}" if self.shapes_missing else ""),
        ]
        if self.has_speech:
            out.append(
                f"visemes: {len(self.visemes_covered)} of {len(VISEME_SENTENCES)} spoken"
                + (f"; missing: {', '.join(self.visemes_missing)}" if self.visemes_missing else "")
            )
            if abs(self.av_offset_s) > 0:
                out.append(
                    f"sound and picture were {self.av_offset_s * 1000:+.0f} ms apart (undone)"
                )
        else:
            out.append("no speech in the clip: mouths are matched by shape alone")
        return out


def shape_classes(shapes: np.ndarray) -> dict[str, np.ndarray]:
    """For each named shape, which frames show it; ``shapes`` as from mouth_shape (6 columns)."""
    opening, width, rounding, _press, teeth, _tongue = shapes.T
    median_width = float(np.median(width)) if len(width) else 0.0
    median_rounding = float(np.median(rounding)) if len(rounding) else 0.0
    return {
        "closed": opening < 0.02,
        "slightly open": (opening >= 0.02) & (opening < 0.07),
        "open": (opening >= 0.07) & (opening < 0.16),
        "wide open": opening >= 0.16,
        "spread": width >= 1.08 * median_width,
        "rounded": (width <= 0.9 * median_width) & (rounding >= 1.1 * median_rounding),
        "teeth showing": teeth >= 0.2,
    }


def coverage_report(
    *,
    duration_s: float,
    fps: float,
    usable: np.ndarray,
    shapes: np.ndarray,
    visemes: np.ndarray | None,
    av_offset_s: float,
) -> CoverageReport:
    classes = shape_classes(shapes[usable])
    shapes_covered = [n for n, hit in classes.items() if hit.sum() >= MIN_FRAMES_COVERED]
    shapes_missing = [n for n in SHAPE_TESTS if n not in shapes_covered]
    visemes_covered: list[str] = []
    visemes_missing: list[str] = []
    if visemes is not None:
        counts = np.bincount(visemes[usable].astype(np.int64), minlength=len(OCULUS_VISEMES))
        for name in VISEME_SENTENCES:
            (
                visemes_covered
                if counts[OCULUS_VISEMES.index(name)] >= MIN_FRAMES_COVERED
                else visemes_missing
            ).append(name)
    return CoverageReport(
        duration_s=round(duration_s, 3),
        usable_s=round(float(usable.sum()) / fps, 3),
        frames=int(len(usable)),
        usable_frames=int(usable.sum()),
        has_speech=visemes is not None,
        av_offset_s=round(av_offset_s, 3),
        shapes_covered=shapes_covered,
        shapes_missing=shapes_missing,
        visemes_covered=visemes_covered,
        visemes_missing=visemes_missing,
        script=recording_script(shapes_missing, visemes_missing),
    )


def recording_script(shapes_missing: list[str], visemes_missing: list[str]) -> list[str]:
    """Sentences that cover what is missing, each once."""
    lines = [VISEME_SENTENCES[v] for v in visemes_missing]
    lines += [SHAPE_SENTENCES[s] for s in shapes_missing]
    return list(dict.fromkeys(lines))


def full_script() -> list[str]:
    """Sentences that, read in one take, show every viseme and mouth shape."""
    return recording_script(list(SHAPE_TESTS), list(VISEME_SENTENCES))
