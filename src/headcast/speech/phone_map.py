"""eSpeak NG phoneme names (IPA) of any language → headcast's ARPAbet phone labels.

eSpeak reports each phoneme it speaks as an IPA string of up to 8 bytes: ``ˈaɪ``, ``tʃ``,
``ɔːɹ``, ``ɛ̃``, ``pf``, an empty string for a pause, ``(fr)`` for a language switch. English
maps exactly onto CMUdict's phones (``ɾ`` → T as CMUdict spells flaps, ``ɑːɹ`` → AA R).
Other languages map each sound to the ARPAbet phone made with the nearest articulation, so
the mouth shape is right even where the sound differs: rounded front vowels (y, ø, œ) to the
rounded ARPAbet vowels, uvular and velar fricatives to the back consonants, and non-English
r-sounds (taps, trills) to the tongue-tip consonants rather than the rounded English R.

A name that spells several sounds (``ts``, ``pf``, ``ɪɹ``, ``iə``) becomes several phones
sharing its time, vowels weighted twice; two vowels forming a diphthong ARPAbet has (aɪ, aʊ,
eɪ, ɔɪ, oʊ and their cousins in other languages) become that one phone.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

from headcast.phones.phoneset import VOWELS
from headcast.phones.track import SILENCE

# Marks that change a sound's length, stress, timing or secondary articulation but not which
# ARPAbet phone is nearest. Combining diacritics (nasal ̃, syllabic ̩, dental ̪ ...) are dropped
# by category; these are the spacing ones.
_DROPPED = set("ˈˌːˑ˘ʰʲʷˠˤᵝʼ˞ⁿˡ͜͡-.'_|0123456789=")

_CONSONANTS = {
    # stops and nasals
    "p": "P", "b": "B", "m": "M", "ʙ": "B", "ɓ": "B", "ʘ": "P",
    "t": "T", "d": "D", "n": "N", "ʈ": "T", "ɖ": "D", "ɳ": "N", "ɗ": "D",
    "c": "K", "ɟ": "G", "ɲ": "N", "ʄ": "G",
    "k": "K", "g": "G", "ɡ": "G", "ŋ": "NG", "ɠ": "G",
    "q": "K", "ɢ": "G", "ɴ": "NG", "ʛ": "G",
    "ʔ": "T", "ʡ": "T",
    # fricatives
    "ɸ": "F", "β": "B", "f": "F", "v": "V", "ɱ": "V", "ʋ": "V", "ⱱ": "V",
    "θ": "TH", "ð": "DH",
    "s": "S", "z": "Z", "ʃ": "SH", "ʒ": "ZH",
    "ʂ": "SH", "ʐ": "ZH", "ɕ": "SH", "ʑ": "ZH", "ɧ": "SH",
    "ç": "HH", "ʝ": "Y", "x": "HH", "ɣ": "G", "χ": "HH", "ʁ": "G",
    "ħ": "HH", "ʕ": "HH", "h": "HH", "ɦ": "HH", "ʜ": "HH", "ʢ": "HH",
    # approximants, laterals, rhotics
    "j": "Y", "w": "W", "ɥ": "W", "ʍ": "W", "ɰ": "W",
    "l": "L", "ɫ": "L", "ɭ": "L", "ʎ": "L", "ʟ": "L", "ɬ": "L", "ɮ": "L", "ɺ": "D",
    "ɹ": "R", "ɻ": "R",
    "r": "D", "ɾ": "D", "ɽ": "D", "ʀ": "G",
    # clicks: the tongue, not the lips (apart from ʘ above)
    "ǀ": "T", "ǃ": "T", "ǂ": "T", "ǁ": "L",
}  # fmt: skip

_VOWELS = {
    # close
    "i": "IY", "y": "UW", "ɨ": "IH", "ʉ": "UW", "ɯ": "UH", "u": "UW",
    "ɪ": "IH", "ʏ": "UH", "ᵻ": "IH", "ᵿ": "UH", "ʊ": "UH",
    # close-mid
    "e": "EY", "ø": "UH", "ɘ": "AH", "ɵ": "UH", "ɤ": "AH", "o": "OW",
    # mid
    "ə": "AH", "ɚ": "ER", "ɝ": "ER",
    # open-mid
    "ɛ": "EH", "œ": "AO", "ɜ": "ER", "ɞ": "AO", "ʌ": "AH", "ɔ": "AO",
    # open
    "æ": "AE", "ɐ": "AH", "a": "AA", "ä": "AA", "ɶ": "AO", "ɑ": "AA", "ɒ": "AA",
}  # fmt: skip

# Sounds spelled with two letters that are one ARPAbet phone (affricates) or that must not be
# read letter by letter.
_MULTI = {
    "tʃ": "CH", "dʒ": "JH", "tɕ": "CH", "dʑ": "JH", "ʈʂ": "CH", "ɖʐ": "JH", "cç": "CH",
    "ɟʝ": "JH", "ər": "ER", "əɹ": "ER", "ɜr": "ER", "ɜɹ": "ER",
}  # fmt: skip

# English: the phones its voices spell differently from other languages.
_ENGLISH = {"a": "AE", "e": "EH", "ɾ": "T", "r": "R", "ʁ": "R"}

_FRONT_GLIDE = set("iɪjeɛyʏøɨ")  # second half of a diphthong moving to the front
_BACK_GLIDE = set("uʊwoɵ")  # ... moving back and rounding
_DIPHTHONGS = (
    (set("aäɑæɐʌ"), _FRONT_GLIDE, "AY"),
    (set("aäɑæɐʌ"), _BACK_GLIDE, "AW"),
    (set("eɛ"), _FRONT_GLIDE, "EY"),
    (set("oɔɒøœɵ"), _FRONT_GLIDE, "OY"),
    (set("oəɔ"), _BACK_GLIDE, "OW"),
)

_VOWEL_WEIGHT, _CONSONANT_WEIGHT = 2, 1
_ASPIRABLE = {"P", "B", "T", "D", "K", "G", "CH", "JH"}


def is_pause(name: str) -> bool:
    """Whether an eSpeak phoneme name is a pause (empty, or only underscores)."""
    return name.strip("_ ") == ""


def is_language_switch(name: str) -> bool:
    """``(en)``, ``(fr)``: eSpeak saying a word in another language, not a sound."""
    return name.startswith("(") and name.endswith(")")


@lru_cache(maxsize=4096)
def map_phoneme(name: str, language: str = "en") -> tuple[tuple[str, int], ...]:
    """ARPAbet phones for one eSpeak IPA phoneme name, with relative duration weights.

    ``("SIL", 1)`` for a pause; ``()`` for a name that is no sound of its own (a language
    switch, a bare modifier such as ``ʲ``): its time belongs to the phone before it.
    """
    if is_pause(name):
        return ((SILENCE, 1),)
    if is_language_switch(name):
        return ()
    english = _is_english(language)
    letters = _strip_marks(name)
    units: list[tuple[str, str]] = []  # (letters, ARPAbet)
    index = 0
    while index < len(letters):
        pair = letters[index : index + 2]
        if pair in _MULTI:
            units.append((pair, _MULTI[pair]))
            index += 2
            continue
        char = letters[index]
        label = _label(char, english)
        if label is not None:
            units.append((char, label))
        index += 1
    return _combine(units)


def _strip_marks(name: str) -> str:
    """The letters of a name without diacritics; accented letters become their base letter
    unless the accented form is a letter of its own (ç, the palatal fricative)."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFC", name):
        if char in _DROPPED or char.isspace() or unicodedata.combining(char):
            continue
        if char not in _VOWELS and char not in _CONSONANTS:
            char = unicodedata.normalize("NFD", char)[0]
            if char in _DROPPED or unicodedata.combining(char):
                continue
        kept.append(char)
    return "".join(kept)


def _label(char: str, english: bool) -> str | None:
    if english and char in _ENGLISH:
        return _ENGLISH[char]
    if char in _VOWELS:
        return _VOWELS[char]
    if char in _CONSONANTS:
        return _CONSONANTS[char]
    if char.isalpha():
        return "AH"  # an unknown letter is still a sound: a neutral open mouth
    return None


def _combine(units: list[tuple[str, str]]) -> tuple[tuple[str, int], ...]:
    """Merge diphthongs, drop aspiration after stops, weight vowels over consonants."""
    out: list[tuple[str, int]] = []
    i = 0
    while i < len(units):
        letters, label = units[i]
        if i + 1 < len(units):
            diphthong = _diphthong(letters, units[i + 1][0])
            if diphthong is not None:
                out.append((diphthong, _VOWEL_WEIGHT))
                i += 2
                continue
        if label == "HH" and letters == "h" and out and out[-1][0] in _ASPIRABLE:
            i += 1  # "th", "kh": an aspirated stop is one phone
            continue
        weight = _VOWEL_WEIGHT if label in VOWELS else _CONSONANT_WEIGHT
        if out and out[-1][0] == label:  # "ss": a geminate is one longer phone
            out[-1] = (label, out[-1][1] + weight)
        else:
            out.append((label, weight))
        i += 1
    return tuple(out)


def _diphthong(first: str, second: str) -> str | None:
    if first not in _VOWELS or (second not in _VOWELS and second not in "jw"):
        return None
    for starts, ends, label in _DIPHTHONGS:
        if first in starts and second in ends:
            return label
    return None


def _is_english(language: str) -> bool:
    code = language.lower().rsplit("/", 1)[-1]
    return code == "en" or code.startswith("en-")


__all__ = ["is_language_switch", "is_pause", "map_phoneme"]
