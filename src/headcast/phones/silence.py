"""Phones the recognizer hears where voice-activity detection finds no voice (silence, noise,
music) become silence."""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import Audio
from headcast.audio.vad import VAD_FRAME_MS, voice_mask
from headcast.phones.track import SILENCE, Phone, PhoneTrack

MIN_NON_SPEECH_MS = 250.0  # only long stretches without voice overrule the recognizer
SILENT_SHARE = 0.8  # a phone this much inside such a stretch is silence


def silence_outside_speech(track: PhoneTrack, audio: Audio) -> PhoneTrack:
    speech = voice_mask(audio.samples, audio.sample_rate)
    if len(speech) == 0:
        return track
    quiet = ~speech
    # Keep only long non-speech runs.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.view(np.int8), [0]))))
    long_quiet = np.zeros_like(quiet)
    min_frames = int(MIN_NON_SPEECH_MS / VAD_FRAME_MS)
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if end - start >= min_frames:
            long_quiet[start:end] = True
    if not long_quiet.any():
        return track
    rate = 1000.0 / VAD_FRAME_MS
    phones: list[Phone] = []
    for phone in track.phones:
        a, b = (
            int(phone.start_s * rate),
            max(int(np.ceil(phone.end_s * rate)), int(phone.start_s * rate) + 1),
        )
        share = float(long_quiet[a:b].mean()) if b <= len(long_quiet) and b > a else 0.0
        label = SILENCE if share >= SILENT_SHARE else phone.label
        if phones and label == SILENCE and phones[-1].label == SILENCE:
            prev = phones.pop()
            phones.append(
                Phone(SILENCE, prev.start_s, phone.end_s, min(prev.confidence, phone.confidence))
            )
        else:
            phones.append(Phone(label, phone.start_s, phone.end_s, phone.confidence))
    return PhoneTrack(tuple(phones), track.duration_s, track.source)
