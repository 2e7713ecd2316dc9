"""Per-frame weights of the 15 Oculus (Meta) Lipsync visemes, with coarticulation.

The visemes and the sounds behind them follow Meta's viseme reference (Oculus Lipsync, now
``XR_META_face_tracking_visemes``): sil, PP (p b m), FF (f v), TH (th), DD (t d), kk (k g),
CH (ch j sh), SS (s z), nn (n l), RR (r), aa (car), E (bed), I (tip), O (toe), U (book).
ARPAbet phones map onto them in ``PHONE_VISEMES``; diphthongs glide between two visemes.

Weights come from a dominance model of coarticulation (after Cohen & Massaro): every phone
pulls the face towards its viseme with a strength that is flat over the phone and decays
exponentially outside it, and the weights at each instant are those pulls normalised to sum
to 1. So neighbours cross-fade instead of switching; sounds the lips must make (p b m,
f v) dominate their neighbours, while sounds made behind the teeth (t d n l k g) give way
to the vowels around them, as they do in real speech. Each phone's pull starts
``LEAD_S`` before its sound (the lips move ahead of the voice) and ends with it, so lips
stay closed until a plosive's release. Pauses long enough to rest pull towards ``sil``;
shorter ones barely interrupt the speech around them. Frames average the weights over their
own interval and at least ``FRAME_WINDOW_S``, so nothing shorter than that flickers through.
"""

from __future__ import annotations

import numpy as np

from headcast.phones.track import SILENCE, PhoneTrack

OCULUS_VISEMES: tuple[str, ...] = (
    "sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U",
)  # fmt: skip
"""The 15 visemes in Oculus Lipsync's order (Meta's newer names for the last three: ih, oh, ou)."""

PHONE_VISEMES: dict[str, tuple[str, ...]] = {
    "P": ("PP",), "B": ("PP",), "M": ("PP",),
    "F": ("FF",), "V": ("FF",),
    "TH": ("TH",), "DH": ("TH",),
    "T": ("DD",), "D": ("DD",),
    "K": ("kk",), "G": ("kk",), "NG": ("kk",),
    "CH": ("CH",), "JH": ("CH",), "SH": ("CH",), "ZH": ("CH",),
    "S": ("SS",), "Z": ("SS",),
    "N": ("nn",), "L": ("nn",),
    "R": ("RR",), "ER": ("RR",),
    "AA": ("aa",), "AE": ("aa",), "AH": ("aa",),
    "EH": ("E",), "IH": ("I",), "IY": ("I",), "Y": ("I",),
    "AO": ("O",), "UH": ("U",), "UW": ("U",), "W": ("U",),
    "AY": ("aa", "I"), "AW": ("aa", "U"), "EY": ("E", "I"), "OW": ("O", "U"), "OY": ("O", "I"),
    SILENCE: ("sil",),
}  # fmt: skip
"""ARPAbet → viseme(s). HH is missing on purpose: it takes the shape of the vowel it breathes."""

LEAD_S = 0.06
"""How long before its sound a phone starts to shape the mouth."""

DECAY_S = 0.025
"""Time constant of the exponential fall of a phone's pull outside its span."""

DOMINANCE: dict[str, float] = {
    "sil": 1.0, "PP": 3.0, "FF": 2.5, "TH": 1.5, "DD": 0.3, "kk": 0.3, "CH": 1.5, "SS": 1.2,
    "nn": 0.3, "RR": 1.2, "aa": 1.0, "E": 1.0, "I": 1.0, "O": 1.3, "U": 1.5,
}  # fmt: skip
"""How strongly each viseme holds against its neighbours (rounded vowels spread the most)."""

SHORT_PAUSE_DOMINANCE = 0.2
"""Pull of a pause shorter than ``REST_PAUSE_S`` inside speech."""

REST_PAUSE_S = 0.18

FRAME_WINDOW_S = 0.08
"""Each frame averages the weights over at least this long (its own interval if longer)."""

_DIPHTHONG_FIRST_SHARE = 0.6
_REACH = 6.0  # pulls are computed out to this many decay constants
_INDEX = {name: i for i, name in enumerate(OCULUS_VISEMES)}


def viseme_targets(track: PhoneTrack) -> list[tuple[float, float, str, float]]:
    """(start s, end s, viseme, dominance) of every phone, diphthongs split in two."""
    phones = track.phones
    out: list[tuple[float, float, str, float]] = []
    for i, phone in enumerate(phones):
        if phone.duration_s <= 0:
            continue
        visemes = PHONE_VISEMES.get(phone.label)
        if visemes is None:  # HH: the neighbouring vowel's shape, else rest
            after = phones[i + 1].label if i + 1 < len(phones) else SILENCE
            before = phones[i - 1].label if i > 0 else SILENCE
            source = after if after != SILENCE else before
            visemes = PHONE_VISEMES.get(source, ("sil",))[:1]
        if phone.label == SILENCE:
            edge = i == 0 or i == len(phones) - 1
            strength = (
                DOMINANCE["sil"]
                if edge or phone.duration_s >= REST_PAUSE_S
                else SHORT_PAUSE_DOMINANCE
            )
            out.append((phone.start_s, phone.end_s, "sil", strength))
        elif len(visemes) == 1:
            out.append((phone.start_s, phone.end_s, visemes[0], DOMINANCE[visemes[0]]))
        else:
            split = phone.start_s + _DIPHTHONG_FIRST_SHARE * phone.duration_s
            out.append((phone.start_s, split, visemes[0], DOMINANCE[visemes[0]]))
            out.append((split, phone.end_s, visemes[1], DOMINANCE[visemes[1]]))
    return out


def oculus_viseme_weights(track: PhoneTrack, fps: float, n_frames: int) -> dict[str, np.ndarray]:
    """Weights of the 15 visemes for each frame (frame ``i`` shows time ``i / fps``).

    Every frame's weights are in [0, 1] and sum to 1; float32 arrays of ``n_frames``.
    """
    if n_frames <= 0:
        return {name: np.zeros(0, np.float32) for name in OCULUS_VISEMES}
    rate = max(200.0, 4.0 * fps)  # internal sampling, Hz
    end_s = max(track.duration_s, n_frames / fps)
    n_fine = int(np.ceil(end_s * rate)) + 1
    fine_t = (np.arange(n_fine) + 0.5) / rate
    pull = np.zeros((len(OCULUS_VISEMES), n_fine))
    reach = _REACH * DECAY_S
    for start, end, viseme, strength in viseme_targets(track):
        onset = start if viseme == "sil" else start - LEAD_S
        lo = max(int((onset - reach) * rate), 0)
        hi = min(int(np.ceil((end + reach) * rate)) + 1, n_fine)
        if hi <= lo:
            continue
        t = fine_t[lo:hi]
        outside = np.maximum(onset - t, 0.0) + np.maximum(t - end, 0.0)
        pull[_INDEX[viseme], lo:hi] += strength * np.exp(-outside / DECAY_S)
    total = pull.sum(axis=0)
    empty = total <= 1e-12
    pull[_INDEX["sil"], empty] = 1.0  # nothing near (no phones at all): rest
    # In place from here on: the weights, then their running sums, reuse the pulls' memory (a
    # long clip's fine-grained arrays are the largest this module holds).
    weights = pull
    weights /= np.maximum(pull.sum(axis=0), 1e-12)

    # Average over each frame's interval [t - 1/(2 fps), t + 1/(2 fps)], clipped to the clip.
    cumulative = np.cumsum(weights, axis=1, out=weights)  # sample k: the sum of 0..k
    centres = np.arange(n_frames) / fps
    half = 0.5 * max(1.0 / fps, FRAME_WINDOW_S)
    lo = np.clip(np.floor((centres - half) * rate).astype(int), 0, n_fine - 1)
    hi = np.clip(np.ceil((centres + half) * rate).astype(int), lo + 1, n_fine)
    before = np.where(lo > 0, cumulative[:, np.maximum(lo - 1, 0)], 0.0)
    framed = (cumulative[:, hi - 1] - before) / (hi - lo)
    framed /= framed.sum(axis=0, keepdims=True)
    return {name: framed[i].astype(np.float32) for i, name in enumerate(OCULUS_VISEMES)}


def dominant_visemes(weights: dict[str, np.ndarray]) -> list[str]:
    """The strongest viseme of each frame."""
    stacked = np.stack([weights[name] for name in OCULUS_VISEMES])
    return [OCULUS_VISEMES[i] for i in np.argmax(stacked, axis=0)]
