"""The ARPAbet phone set used by PhoneTracks, and classes of phones by mouth shape."""

from __future__ import annotations

from headcast.phones.track import SILENCE


def _labels(text: str) -> frozenset[str]:
    return frozenset(text.split(" "))


VOWELS = _labels("AA AE AH AO AW AY EH ER EY IH IY OW OY UH UW")
"""The 15 ARPAbet vowels and diphthongs (ER included: it is syllabic)."""

CONSONANTS = _labels("B CH D DH F G HH JH K L M N NG P R S SH T TH V W Y Z ZH")
"""The 24 ARPAbet consonants."""

PHONES: frozenset[str] = VOWELS | CONSONANTS
"""The 39 ARPAbet phones (CMUdict's set), without silence."""

PHONE_SET: frozenset[str] = PHONES | {SILENCE}
"""Every label a PhoneTrack may carry: the 39 phones and ``SIL``."""

BILABIALS = _labels("P B M")
"""Lips closed."""

LABIODENTALS = _labels("F V")
"""Lower lip against the upper teeth."""

DENTALS = _labels("TH DH")
"""Tongue tip between the teeth."""

ROUNDED = _labels("UW UH OW OY AO W SH ZH CH JH R")
"""Phones spoken with rounded or protruded lips."""

FILLERS = _labels(
    "SIL <SIL> <S> </S> +NSN+ +SPN+ +BREATH+ +COUGH+ +LAUGH+ +SMACK+ +UH+ +UM+ +GARBAGE+ "
    "[NOISE] [SPEECH] [SIL] SP SPN NSN"
)
"""Labels of silence, noise and other non-speech units, all of which become ``SIL``."""

ALIASES = {"AX": "AH", "AXR": "ER", "IX": "IH", "UX": "UW", "EM": "M", "EN": "N", "EL": "L",
           "NX": "N", "DX": "T", "HV": "HH"}  # fmt: skip
"""Labels of extended ARPAbet (TIMIT) and the CMUdict phones they become."""


def normalize_label(label: str) -> str:
    """An ARPAbet phone label in PhoneTrack form: upper case, no stress digit, fillers as ``SIL``.

    Extended ARPAbet labels map to their CMUdict phone (``AX`` → ``AH``); anything else
    outside the phone set also becomes ``SIL``.
    """
    cleaned = label.strip().upper()
    if not cleaned or cleaned in FILLERS or cleaned[0] in "+[<":
        return SILENCE
    cleaned = cleaned.rstrip("012")
    cleaned = ALIASES.get(cleaned, cleaned)
    return cleaned if cleaned in PHONES else SILENCE


__all__ = [
    "ALIASES",
    "BILABIALS",
    "CONSONANTS",
    "DENTALS",
    "FILLERS",
    "LABIODENTALS",
    "PHONES",
    "PHONE_SET",
    "ROUNDED",
    "SILENCE",
    "VOWELS",
    "normalize_label",
]
