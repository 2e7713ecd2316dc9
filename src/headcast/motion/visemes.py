"""Mouth targets per ARPAbet phone: how open, wide, rounded and pressed each sound looks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MouthTarget:
    jaw_open: float = 0.0
    mouth_stretch: float = 0.0
    lip_pucker: float = 0.0
    lip_press: float = 0.0
    lip_funnel: float = 0.0
    upper_lip_raise: float = 0.0
    lower_lip_tuck: float = 0.0
    tongue_tip: float = 0.0


REST = MouthTarget()

TARGETS: dict[str, MouthTarget] = {
    # Vowels: openness from the jaw, shape from spreading or rounding.
    "AA": MouthTarget(0.72, 0.05),
    "AE": MouthTarget(0.6, 0.3, upper_lip_raise=0.3),
    "AH": MouthTarget(0.5),
    "AO": MouthTarget(0.62, -0.2, 0.2, lip_funnel=0.4),
    "AW": MouthTarget(0.62, -0.1, 0.3),
    "AY": MouthTarget(0.62, 0.15),
    "EH": MouthTarget(0.45, 0.3),
    "ER": MouthTarget(0.3, -0.1, 0.2, lip_funnel=0.4),
    "EY": MouthTarget(0.4, 0.45),
    "IH": MouthTarget(0.3, 0.4),
    "IY": MouthTarget(0.22, 0.6, upper_lip_raise=0.2),
    "OW": MouthTarget(0.45, -0.3, 0.6, lip_funnel=0.4),
    "OY": MouthTarget(0.48, -0.2, 0.5),
    "UH": MouthTarget(0.3, -0.2, 0.5),
    "UW": MouthTarget(0.2, -0.4, 0.85),
    # Bilabials: the lips meet and press.
    "P": MouthTarget(0.0, 0.0, 0.0, 1.0),
    "B": MouthTarget(0.0, 0.0, 0.0, 1.0),
    "M": MouthTarget(0.0, 0.0, 0.0, 0.8),
    # Labiodentals: lower lip to upper teeth, nearly closed.
    "F": MouthTarget(0.08, 0.1, lower_lip_tuck=1.0, upper_lip_raise=0.3),
    "V": MouthTarget(0.08, 0.1, lower_lip_tuck=1.0, upper_lip_raise=0.3),
    "TH": MouthTarget(0.18, 0.1, tongue_tip=1.0),
    "DH": MouthTarget(0.18, 0.1, tongue_tip=1.0),
    "T": MouthTarget(0.2, 0.15, tongue_tip=0.6),
    "D": MouthTarget(0.2, 0.15, tongue_tip=0.6),
    "N": MouthTarget(0.18, 0.1, tongue_tip=0.6),
    "L": MouthTarget(0.28, 0.05, tongue_tip=1.0),
    "S": MouthTarget(0.1, 0.35, upper_lip_raise=0.2),
    "Z": MouthTarget(0.1, 0.35, upper_lip_raise=0.2),
    "SH": MouthTarget(0.15, -0.3, 0.3, lip_funnel=0.9, upper_lip_raise=0.3),
    "ZH": MouthTarget(0.15, -0.3, 0.3, lip_funnel=0.9, upper_lip_raise=0.3),
    "CH": MouthTarget(0.15, -0.3, 0.3, lip_funnel=0.9, upper_lip_raise=0.3),
    "JH": MouthTarget(0.15, -0.3, 0.3, lip_funnel=0.9, upper_lip_raise=0.3),
    "K": MouthTarget(0.25, 0.1),
    "G": MouthTarget(0.25, 0.1),
    "NG": MouthTarget(0.22, 0.1),
    "HH": MouthTarget(0.35),
    "R": MouthTarget(0.2, -0.2, 0.3, lip_funnel=0.5),
    "W": MouthTarget(0.1, -0.4, 0.85),
    "Y": MouthTarget(0.2, 0.35),
}

BILABIALS = frozenset({"P", "B", "M"})
LABIODENTALS = frozenset({"F", "V"})
ROUNDING_CONTROLS = ("lip_pucker", "lip_funnel")
MOUTH_CONTROLS = tuple(MouthTarget.__dataclass_fields__)
VOWELS = frozenset(
    {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
)


def target_for(label: str) -> MouthTarget:
    """The mouth target of a phone label; silence and unknown sounds rest."""
    return TARGETS.get(label, REST)
