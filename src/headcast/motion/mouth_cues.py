"""Mouth cues: the nine drawn mouth shapes of 2D lip sync, timed against the speech.

The shapes are those of Rhubarb Lip Sync (Hanna-Barbera's six basic shapes A–F, plus the
optional G, H and X); ``SHAPE_DESCRIPTIONS`` says what each one looks like. A PhoneTrack
becomes cues in six steps, all on a centisecond grid (so cue times are exact multiples of
0.01 s, as in Rhubarb's files):

1. **Rules.** Each phone allows a set of shapes over its span (a vowel usually one, a
   consonant several: the tongue hides most consonants, so the lips follow the vowels around
   them). Diphthongs get two sets (60 % / 40 %). Plosives also shape the closure before their
   release: /p b/ close the lips (A) for up to 80 ms before the phone and throughout it, /m/
   holds A throughout, /t d k g/ show their occlusion before the release.
2. **Choice.** One shape per rule, chosen for the whole utterance at once (Viterbi) to
   minimise the mouth's travel between neighbours, with a slight pull towards the *next*
   shape so that flexible consonants anticipate the coming vowel (lip rounding of "school"
   starts on the /s/). Rhubarb decides greedily, left to right, and anticipates at most
   200 ms back from a vowel.
3. **Pauses.** A pause under 0.12 s holds the previous shape, one up to 0.35 s shows a relaxed
   form of it (never the same shape as the one after the pause), longer ones the idle X.
4. **Timing.** Every stretch of open mouth or closed lips lasts at least 80 ms so that it
   registers, borrowing from its neighbours (at most 60 ms from each side, the left side
   first, never more than a neighbour can spare: a lip closure keeps 80 ms and its middle);
   inside an open stretch, shapes shorter than 60 ms merge into their most similar
   neighbour. Unlike Rhubarb's retiming, a bilabial's closure is never dropped.
5. **In-betweens.** Closing movements get an in-between shape (D→A via C, C/D→F via E,
   F→H via E, ...) of 40–80 ms, placed early, centred or late as the movement needs: the
   mouth pops open without in-betweens and closes through them.
6. **No frozen mouth.** A shape held ≥ 0.75 s across ≥ 3 vowels looks stuck; one of those
   vowels is switched to its neighbouring shape (B → C) and the cues are made again.

``shapes_per_frame`` samples cues at a video frame rate; a lip closure shorter than a frame
is still shown, on the frame nearest its middle (Rhubarb's DAT export drops such cues).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from headcast.phones.phoneset import BILABIALS, VOWELS
from headcast.phones.track import SILENCE, PhoneTrack

SHAPES = "ABCDEFGHX"
"""All nine shapes, in Rhubarb's order."""

BASIC_SHAPES = "ABCDEF"
EXTENDED_SHAPES = "GHX"

SHAPE_DESCRIPTIONS: dict[str, str] = {
    "A": "lips closed and slightly pressed: P, B, M",
    "B": "mouth slightly open, teeth together: most consonants (K, S, T...) and EE as in 'bee'",
    "C": "mouth open: EH as in 'men', AE as in 'bat'; also the in-between from A or B to D",
    "D": "mouth wide open: AA as in 'father'",
    "E": "slightly rounded, no wider open than C: AO as in 'off', ER as in 'bird'; also the "
    "in-between from C or D to F",
    "F": "lips puckered: UW as in 'you', OW as in 'show', W as in 'way'",
    "G": "upper teeth on the lower lip: F as in 'for', V as in 'very' (extended shape)",
    "H": "long L: tongue raised behind the upper teeth, mouth open between C and D "
    "(extended shape)",
    "X": "idle: lips closed and relaxed, for pauses (extended shape)",
}

BASIC_SUBSTITUTE = {"G": "A", "H": "C", "X": "A"}
"""The basic shape drawn instead of an extended one that a character lacks (as Rhubarb)."""

PRESTON_BLAIR_NAMES = {
    "A": "MBP", "B": "etc", "C": "E", "D": "AI", "E": "O", "F": "U", "G": "FV", "H": "L", "X": "rest",
}  # fmt: skip
"""The Preston Blair names of the shapes (as Rhubarb's ``--datUsePrestonBlair``; OpenToonz)."""

# Timing constants, in centiseconds.
_MAX_CLOSURE_LEAD = 8  # /p b/: lips close this long (at most) before the phone
_MIN_CLOSURE_LEAD = 3
_MIN_OCCLUSION, _MAX_OCCLUSION = 4, 12  # /t d k g/: occlusion shape before the release
_LONG_L = 20  # a long /l/ shows the tongue (H)
_HOLD_PAUSE = 12  # shorter pauses keep the shape before them
_RELAX_PAUSE = 35  # pauses up to this long show a relaxed shape, longer ones X
_MIN_STRETCH = 8  # an open or closed stretch must last this long to register
_MAX_BORROW = 6  # a short stretch takes at most this much from each neighbour
_MIN_SHAPE = 6  # shorter shapes inside an open stretch flicker
_MIN_TWEEN, _MAX_TWEEN = 4, 8
_STATIC_LENGTH, _STATIC_VOWELS, _STATIC_ROUNDS = 75, 3, 3

# Rough geometry of each shape, for the effort of moving between two of them:
# (opening 0–1, rounding 0–1, special articulator).
_GEOMETRY = {
    "X": (0.0, 0.0, ""), "A": (0.0, 0.0, "press"), "B": (0.2, 0.0, ""), "C": (0.5, 0.1, ""),
    "D": (0.9, 0.0, ""), "E": (0.45, 0.5, ""), "F": (0.2, 1.0, ""), "G": (0.1, 0.0, "teeth"),
    "H": (0.6, 0.1, "tongue"),
}  # fmt: skip
_INDEX = {shape: i for i, shape in enumerate(SHAPES)}
_EFFORT = np.array(
    [
        [
            abs(_GEOMETRY[a][0] - _GEOMETRY[b][0])
            + abs(_GEOMETRY[a][1] - _GEOMETRY[b][1])
            + (0.1 if _GEOMETRY[a][2] != _GEOMETRY[b][2] else 0.0)
            for b in SHAPES
        ]
        for a in SHAPES
    ]
)
_TOWARDS_FLEXIBLE = 0.9  # weight of a move into a flexible rule: the next shape pulls harder
_RANK_COST = 0.02  # preference for the first options a rule lists

_RELAXED = {
    "A": "A",
    "B": "B",
    "C": "B",
    "D": "C",
    "E": "C",
    "F": "B",
    "G": "B",
    "H": "C",
    "X": "X",
}

# (from, to) → (in-between, placement): early = at the end of the first shape, late = at
# the start of the second, centred = across the change. Closing movements only.
_TWEENS = {
    ("D", "A"): ("C", "early"), ("D", "B"): ("C", "centred"), ("D", "G"): ("C", "early"),
    ("D", "X"): ("C", "late"), ("C", "F"): ("E", "centred"), ("F", "C"): ("E", "centred"),
    ("D", "F"): ("E", "centred"), ("H", "F"): ("E", "late"), ("F", "H"): ("E", "early"),
}  # fmt: skip

_ANY = "BCDEFGHAX"
_ANY_OPEN = "BCDEFGH"


@dataclass(frozen=True)
class MouthCue:
    """One mouth shape (a letter of ``SHAPES``) shown from ``start_s`` to ``end_s``."""

    start_s: float
    end_s: float
    shape: str


@dataclass(frozen=True)
class MouthCueTrack:
    """Cues with what Rhubarb's XML and JSON files carry besides them."""

    cues: tuple[MouthCue, ...]
    duration_s: float
    sound_file: str = ""


@dataclass
class _Rule:
    options: str  # allowed shapes, preferred first
    phone: str | None  # the phone it comes from (None: silence)
    middle: int  # middle of that phone, cs
    closure: bool = False  # lips must close (bilabials)


def mouth_cues(track: PhoneTrack, *, extended: bool | str = True) -> list[MouthCue]:
    """The mouth cues of ``track``: gapless, from 0 to its duration (rounded to 0.01 s).

    ``extended`` picks the optional shapes a character has: True for G, H and X, False for
    none, or a string of those to use (``"GX"``); missing ones become basic shapes.
    """
    allowed = _target_shapes(extended)
    total = max(round(track.duration_s * 100), 1)
    rules, cells = _rules(track, total)
    for _ in range(_STATIC_ROUNDS + 1):
        runs = _animate(rules, cells, allowed)
        if not _break_static(runs, rules):
            break
    runs = _merge([(a, b, s if s in allowed else BASIC_SUBSTITUTE[s]) for a, b, s in runs])
    return [MouthCue(a / 100, b / 100, s) for a, b, s in runs]


def shapes_per_frame(cues: Sequence[MouthCue], fps: float, n_frames: int) -> list[str]:
    """The shape shown on each video frame (frame ``i`` shows time ``i / fps``).

    Each frame takes the cue under its time, except that every closure (A) that falls
    between two frames still gets the frame nearest its middle. Frames past the last cue
    show the last shape; no cues at all is a resting mouth.
    """
    if n_frames <= 0:
        return []
    if not cues:
        return ["X"] * n_frames
    starts = np.array([cue.start_s for cue in cues])
    times = np.arange(n_frames) / fps
    index = np.clip(np.searchsorted(starts, times + 1e-9, side="right") - 1, 0, len(cues) - 1)
    shapes = [cues[i].shape for i in index]
    for cue in cues:
        if cue.shape != "A":
            continue
        if math.ceil(cue.start_s * fps - 1e-9) / fps < cue.end_s - 1e-9:
            continue  # some frame time falls inside the closure
        nearest = min(max(round(0.5 * (cue.start_s + cue.end_s) * fps), 0), n_frames - 1)
        shapes[nearest] = "A"
    return shapes


def _target_shapes(extended: bool | str) -> str:
    if extended is True:
        chosen = EXTENDED_SHAPES
    elif extended is False:
        chosen = ""
    else:
        chosen = extended.upper()
        unknown = set(chosen) - set(EXTENDED_SHAPES)
        if unknown:
            raise ValueError(f"extended shapes must be among G, H, X; got {''.join(unknown)}")
    return BASIC_SHAPES + "".join(s for s in EXTENDED_SHAPES if s in chosen)


def _vowel_options(label: str, dur: int) -> list[tuple[float, str]]:
    """(share of the phone, options) pieces of a vowel."""
    if label == "AH":
        return [(1.0, "BC" if dur < 7 else "C" if dur < 20 else "D")]
    if label == "ER":
        return [(1.0, "BC" if dur < 7 else "E")]
    if label == "AY":
        return [(0.6, "C" if dur < 20 else "D"), (0.4, "B")]
    if label == "AW":
        return [(0.6, "C" if dur < 30 else "D"), (0.4, "E")]
    two = {"EY": ("C", "B"), "OW": ("E", "F"), "OY": ("E", "B")}
    if label in two:
        return [(0.6, two[label][0]), (0.4, two[label][1])]
    one = {"AO": "E", "AA": "D", "IY": "B", "UW": "F", "EH": "C", "IH": "B", "UH": "F", "AE": "C"}
    return [(1.0, one[label])]


_CONSONANT_OPTIONS = {
    "M": "A", "P": "A", "B": "A", "T": _ANY_OPEN, "D": _ANY_OPEN, "K": _ANY_OPEN,
    "G": _ANY_OPEN, "CH": "BF", "JH": "BF", "F": "G", "V": "G", "TH": "BF", "DH": "BF",
    "S": "BF", "Z": "BF", "SH": "FB", "ZH": "FB", "HH": _ANY, "N": "BCFH", "NG": "BCEF",
    "R": "BEF", "Y": "BCF", "W": "F", "L": "BEFH",
}  # fmt: skip
_OCCLUSION = {"T": "BF", "D": "BF", "K": "BCEFH", "G": "BCEFH"}


def _rules(track: PhoneTrack, total: int) -> tuple[list[_Rule], np.ndarray]:
    """Shape rules, and which rule holds each centisecond (later rules overwrite earlier)."""
    rules = [_Rule("X", None, 0)]
    cells = np.zeros(total, dtype=np.int32)
    previous_dur = 0
    for phone in track.phones:
        start = min(round(phone.start_s * 100), total)
        end = min(round(phone.end_s * 100), total)
        dur = end - start
        if dur <= 0:
            continue
        middle = (start + end) // 2
        label = phone.label
        if label == SILENCE or (label not in VOWELS and label not in _CONSONANT_OPTIONS):
            rules.append(_Rule("X", None, middle))
            cells[start:end] = len(rules) - 1
        elif label in VOWELS:
            cursor = start
            pieces = _vowel_options(label, dur)
            for k, (share, options) in enumerate(pieces):
                stop = end if k == len(pieces) - 1 else start + round(share * dur)
                rules.append(_Rule(options, label, middle))
                cells[cursor:stop] = len(rules) - 1
                cursor = stop
        else:
            lead, lead_options = 0, ""
            if label in ("P", "B"):
                lead = min(max(previous_dur // 2, _MIN_CLOSURE_LEAD), _MAX_CLOSURE_LEAD)
                lead_options = "A"
            elif label in _OCCLUSION:
                lead = min(max(previous_dur // 2, _MIN_OCCLUSION), _MAX_OCCLUSION)
                lead_options = _OCCLUSION[label]
            if lead:
                rules.append(_Rule(lead_options, label, middle, closure=label in BILABIALS))
                lo = max(start - lead, 0)
                # A lead never overwrites another bilabial's closure.
                free = np.array([not rules[c].closure for c in cells[lo:start]], dtype=bool)
                cells[lo:start][free] = len(rules) - 1
            options = "H" if label == "L" and dur >= _LONG_L else _CONSONANT_OPTIONS[label]
            rules.append(_Rule(options, label, middle, label in BILABIALS))
            cells[start:end] = len(rules) - 1
        previous_dur = dur
    return rules, cells


def _animate(rules: list[_Rule], cells: np.ndarray, allowed: str) -> list[tuple[int, int, str]]:
    """Steps 2–5 on the current rules: (start cs, end cs, shape) runs."""
    edges = np.flatnonzero(np.diff(cells)) + 1
    starts = np.concatenate(([0], edges))
    ends = np.concatenate((edges, [len(cells)]))
    segment_rules = [rules[cells[s]] for s in starts]
    shapes = _choose(segment_rules, allowed + "X")
    runs = _merge(list(zip(starts.tolist(), ends.tolist(), shapes, strict=True)))
    runs = _animate_pauses(runs)
    runs = _optimise_timing(runs)
    return _insert_tweens(runs)


def _choose(segment_rules: list[_Rule], allowed: str) -> list[str]:
    """One shape per segment, minimising weighted travel over the whole utterance."""
    n, k = len(segment_rules), len(SHAPES)
    local = np.full((n, k), np.inf)
    for i, rule in enumerate(segment_rules):
        options = [s if s in allowed else BASIC_SUBSTITUTE[s] for s in rule.options]
        for rank, shape in enumerate(dict.fromkeys(options)):
            local[i, _INDEX[shape]] = rank * _RANK_COST
    cost = local[0].copy()
    back = np.zeros((n, k), dtype=np.int32)
    for i in range(1, n):
        weight = _TOWARDS_FLEXIBLE if len(segment_rules[i].options) > 1 else 1.0
        total = cost[:, None] + weight * _EFFORT  # [from, to]
        back[i] = np.argmin(total, axis=0)
        cost = total[back[i], np.arange(k)] + local[i]
    choice = [0] * n
    choice[-1] = int(np.argmin(cost))
    for i in range(n - 1, 0, -1):
        choice[i - 1] = int(back[i, choice[i]])
    return [SHAPES[c] for c in choice]


def _merge(runs: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    for start, end, shape in runs:
        if end <= start:
            continue
        if out and out[-1][2] == shape:
            out[-1] = (out[-1][0], end, shape)
        else:
            out.append((start, end, shape))
    return out


def _animate_pauses(runs: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out = list(runs)
    for i in range(1, len(runs) - 1):
        start, end, shape = runs[i]
        if shape != "X":
            continue
        before, after = runs[i - 1][2], runs[i + 1][2]
        if end - start < _HOLD_PAUSE:
            out[i] = (start, end, before)
        elif end - start <= _RELAX_PAUSE:
            relaxed = _RELAXED[before]
            while relaxed == after and _RELAXED[relaxed] != relaxed:
                relaxed = _RELAXED[relaxed]
            out[i] = (start, end, relaxed if relaxed != after else "X")
    return _merge(out)


def _kind(shape: str) -> str:
    return "idle" if shape == "X" else "closed" if shape == "A" else "open"


def _stretches(runs: Sequence) -> list[list[int]]:
    """Indices of runs grouped into maximal stretches of one kind (idle, closed, open)."""
    groups: list[list[int]] = []
    for i, run in enumerate(runs):
        if groups and _kind(runs[groups[-1][0]][2]) == _kind(run[2]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _lendable(runs: list[list], group: list[int], at_end: bool) -> int:
    """Time a stretch can give from one end and still register itself."""
    edge = runs[group[-1]] if at_end else runs[group[0]]
    kind = _kind(edge[2])
    total = runs[group[-1]][1] - runs[group[0]][0]
    if kind == "closed":  # a closure keeps its minimum and its middle
        return max(min(total - _MIN_STRETCH, total // 2 - 1), 0)
    if kind == "idle":
        return max(total - 1, 0)
    return max(min(total - _MIN_STRETCH, edge[1] - edge[0] - _MIN_SHAPE), 0)


def _optimise_timing(runs: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Stretches long enough to register; no flicker of short shapes inside open stretches."""
    # [start, end, shape] lists whose edges are moved in place.
    cells: list[list[Any]] = [list(r) for r in runs]
    groups = _stretches(cells)
    for g, group in enumerate(groups):
        length = cells[group[-1]][1] - cells[group[0]][0]
        if _kind(cells[group[0]][2]) == "idle" or length >= _MIN_STRETCH:
            continue
        need = _MIN_STRETCH - length
        if g > 0:  # borrow from the left first: the mouth moves ahead of the sound
            take = min(need, _MAX_BORROW, _lendable(cells, groups[g - 1], at_end=True))
            cells[group[0]][0] -= take
            cells[groups[g - 1][-1]][1] -= take
            need -= take
        if need > 0 and g + 1 < len(groups):
            take = min(need, _MAX_BORROW, _lendable(cells, groups[g + 1], at_end=False))
            cells[group[-1]][1] += take
            cells[groups[g + 1][0]][0] += take
    merged = _merge((start, end, shape) for start, end, shape in cells)
    out: list[tuple[int, int, str]] = []
    for group in _stretches(merged):
        part = [merged[i] for i in group]
        out += _drop_flicker(part) if _kind(part[0][2]) == "open" else part
    return _merge(out)


def _drop_flicker(runs: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Merge shapes shorter than ``_MIN_SHAPE`` of one open stretch into a neighbour."""
    runs = list(runs)
    while len(runs) > 1:
        i = min(range(len(runs)), key=lambda k: runs[k][1] - runs[k][0])
        start, end, shape = runs[i]
        if end - start >= _MIN_SHAPE:
            break
        neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
        # The most similar neighbour takes the time; on a tie the next one (anticipation).
        j = min(neighbours, key=lambda n: (_EFFORT[_INDEX[shape], _INDEX[runs[n][2]]], -n))
        runs[j] = (min(runs[j][0], start), max(runs[j][1], end), runs[j][2])
        del runs[i]
        runs = _merge(runs)
    return runs


def _insert_tweens(runs: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    out = [list(r) for r in runs]
    for i in range(len(runs) - 1):
        (a_start, a_end, a), (b_start, b_end, b) = runs[i], runs[i + 1]
        tween = _TWEENS.get((a, b))
        if tween is None:
            continue
        shape, placement = tween
        if placement == "early":
            dur = min((a_end - a_start) // 3, _MAX_TWEEN)
            start = a_end - dur
        elif placement == "late":
            dur = min((b_end - b_start) // 3, _MAX_TWEEN)
            start = b_start
        else:
            dur = min((a_end - a_start) // 4, (b_end - b_start) // 4, _MAX_TWEEN)
            start = a_end - dur // 2
        if dur < _MIN_TWEEN:
            continue
        out.append([start, start + dur, shape])
    return _paint(runs, out[len(runs) :])


def _paint(runs: list[tuple[int, int, str]], overlays: list[list]) -> list[tuple[int, int, str]]:
    """``runs`` with ``overlays`` (start, end, shape) drawn over them."""
    if not overlays:
        return runs
    total = runs[-1][1]
    cells = np.empty(total, dtype="<U1")
    for start, end, shape in runs:
        cells[start:end] = shape
    for start, end, shape in overlays:
        cells[max(start, 0) : min(end, total)] = shape
    edges = np.flatnonzero(cells[1:] != cells[:-1]) + 1
    starts = np.concatenate(([0], edges)).tolist()
    ends = np.concatenate((edges, [total])).tolist()
    return [(a, b, str(cells[a])) for a, b in zip(starts, ends, strict=True)]


def _break_static(runs: list[tuple[int, int, str]], rules: list[_Rule]) -> bool:
    """Switch one vowel in each frozen stretch to a neighbouring shape; False if none."""
    changed = False
    for start, end, shape in runs:
        if end - start < _STATIC_LENGTH or shape in "AX":
            continue
        vowels = [r for r in rules if r.phone in VOWELS and start <= r.middle < end]
        if len({r.middle for r in vowels}) < _STATIC_VOWELS:
            continue
        candidates = [r for r in vowels if r.options == "B"]
        if candidates:
            middle = (start + end) / 2
            min(candidates, key=lambda r: abs(r.middle - middle)).options = "C"
            changed = True
    return changed
