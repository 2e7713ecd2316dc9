"""Phone recognition without a transcript, for audio known beforehand (a clip, a piece of one).

The clip is heard as a stream is (``PhoneStream``): only what its voice-activity gate takes for
speech is decoded, each utterance whole, with its own cepstral mean. Against decoding the
whole clip at once (pocketsphinx's allphone search over noise and pauses too, then silencing
what voice-activity detection rejects), measured on the hard-audio table: clean speech 0.832
against 0.828, telephone 0.759 against 0.763, room noise at 10 dB SNR 0.582 against 0.483 and
at 0 dB 0.343 against 0.114, noise or music alone left at rest on 0.915 of frames against 1.0.
"""

from __future__ import annotations

import numpy as np

from headcast.audio.clip import Audio
from headcast.phones import sphinx
from headcast.phones.stream import PhoneStream
from headcast.phones.track import PhoneTrack

FEED_S = 1.0  # audio handed to the stream at a time


def recognize_phones(audio: Audio, *, fast: bool = False) -> PhoneTrack:
    """Recognize the phones in 16 kHz mono speech, without knowing the words.

    ``fast`` trades ~10 points of frame accuracy for a ~4x smaller real-time factor.
    Raises InputError for empty audio or another sample rate.
    """
    sphinx.validate(audio)
    samples = np.asarray(audio.samples, np.float32)
    feed = round(FEED_S * sphinx.SAMPLE_RATE)
    stream = PhoneStream(fast=fast, whole_utterances=True)
    try:
        for first in range(0, len(samples), feed):
            stream.push(samples[first : first + feed])
        stream.finish()
        return stream.track()  # source "recognition", over the whole audio
    finally:
        stream.close()
