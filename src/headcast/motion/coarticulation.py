"""Step 2 of the mouth: coarticulation — lips round ahead of rounded sounds, and stay briefly after.

Lip rounding is the articulation that spreads furthest across neighbouring sounds: the lips
start rounding for "oo" during the consonants before it ("st" in "stoop"), while the jaw and
tongue cannot. Only consonant keys inherit rounding; a vowel in between blocks it.
"""

from __future__ import annotations

from dataclasses import replace

from headcast.motion import tunables as T
from headcast.motion.keys import MouthKey
from headcast.motion.visemes import ROUNDING_CONTROLS, VOWELS


def spread_rounding(keys: list[MouthKey]) -> list[MouthKey]:
    out = list(keys)
    for i, key in enumerate(keys):
        for control in ROUNDING_CONTROLS:
            amount = getattr(key.shape, control)
            if amount < T.ROUNDING_SPREAD_MIN:
                continue
            _carry(out, i, control, amount, step=-1, reach_s=T.ROUNDING_ANTICIPATION_MS / 1000)
            _carry(out, i, control, amount, step=+1, reach_s=T.ROUNDING_CARRYOVER_MS / 1000)
    return out


def _carry(
    keys: list[MouthKey], origin: int, control: str, amount: float, step: int, reach_s: float
) -> None:
    origin_t = keys[origin].time_s
    j = origin + step
    while 0 <= j < len(keys):
        key = keys[j]
        distance = abs(key.time_s - origin_t)
        if distance > reach_s or key.label in VOWELS or key.label == "SIL":
            break
        share = T.ROUNDING_SPREAD_SHARE * (1.0 - distance / reach_s)
        inherited = amount * share
        if inherited > getattr(key.shape, control):
            keys[j] = replace(key, shape=replace(key.shape, **{control: inherited}))
        j += step
