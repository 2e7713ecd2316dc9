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
from headcast.phones.pieces import PhonePiece, join_pieces, phones_in_pieces
from headcast.phones.recognize import recognize_phones
from headcast.phones.track import SILENCE, Phone, PhoneTrack


def phones_from_audio(
    audio: Audio, transcript: str | None = None, *, fast: bool = False
) -> PhoneTrack:
    """The PhoneTrack of 16 kHz mono speech.

    Forced alignment when ``transcript`` has text, phone recognition otherwise (``fast``
    picks the cheaper recognizer); long speech is decoded in pieces cut at its pauses (see
    ``phones_in_pieces``). Raises InputError for empty audio or another sample rate.
    """
    return join_pieces(list(phones_in_pieces(audio, transcript, fast=fast)), audio.duration_s)


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
    "PhonePiece",
    "PhoneTrack",
    "align_phones",
    "join_pieces",
    "normalize_label",
    "phones_from_audio",
    "phones_in_pieces",
    "recognize_phones",
    "transcript_words",
]
