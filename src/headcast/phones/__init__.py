"""What is said, and when: speech audio → a timed ARPAbet PhoneTrack.

With a transcript the phones come from forced alignment (accurate to about a frame); without
one, from pocketsphinx phone recognition (roughly three frames in four agree with alignment).
Both use the en-us model bundled with pocketsphinx; nothing is downloaded.
"""

from __future__ import annotations

from headcast.audio.clip import Audio
from headcast.phones.align import align_phones, transcript_words
from headcast.phones.phoneset import (
    BILABIALS,
    CONSONANTS,
    DENTALS,
    LABIODENTALS,
    PHONE_SET,
    PHONES,
    ROUNDED,
    VOWELS,
    normalize_label,
)
from headcast.phones.recognize import recognize_phones
from headcast.phones.track import SILENCE, Phone, PhoneTrack


def phones_from_audio(
    audio: Audio, transcript: str | None = None, *, fast: bool = False
) -> PhoneTrack:
    """The PhoneTrack of 16 kHz mono speech.

    Forced alignment when ``transcript`` has text, phone recognition otherwise (``fast``
    picks the cheaper recognizer). Raises InputError for empty audio or another sample rate.
    """
    if transcript is not None and transcript.strip():
        return align_phones(audio, transcript)
    return recognize_phones(audio, fast=fast)


__all__ = [
    "BILABIALS",
    "CONSONANTS",
    "DENTALS",
    "LABIODENTALS",
    "PHONES",
    "PHONE_SET",
    "ROUNDED",
    "SILENCE",
    "VOWELS",
    "Phone",
    "PhoneTrack",
    "align_phones",
    "normalize_label",
    "phones_from_audio",
    "recognize_phones",
    "transcript_words",
]
