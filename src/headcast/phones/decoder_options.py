"""The phone recognizer's decoder options, and the cepstral means a recognizer starts from.

Options were measured on the LibriVox test clips against pocketsphinx's forced alignment of
their transcripts (frame-level phone agreement at 100 frames/s; real-time factor on 2 busy
CPU cores), starting from pocketsphinx's defaults (61 %, RTF 0.03):

* context-dependent triphones (``allphone_ci`` off) are the largest gain (+10 points) and the
  largest cost (RTF 2.6 at the default beams); the accuracy does not change down to beams of
  1e-10, where the cost falls to RTF ~0.15 (1e-8: -1 point; 1e-5: -3 points). Beams of 1e-7
  cost about one point of mouth-shape accuracy (81.3 → 80.3 %) and bring the RTF under 0.1;
* ``lw`` 2 with a phone insertion penalty ``pip`` 0.1 beats the defaults (6.5, 1.0) by 1-4
  points: the defaults over-insert phones;
* scoring the top 8 Gaussians instead of 4 adds ~1.5 points;
* ``bestpath``, ``wip`` and wider beams change nothing measurable.

The fast configuration keeps context-independent units (RTF ~0.03, 63 %; the default:
RTF ~0.11, 74 %) for when many live streams share a CPU.

Telephone-band speech (``headcast.audio.band``) keeps these features: a filterbank limited to
the band (``upperf`` 3500-3800 Hz at 16 kHz, or 8 kHz features with ``nfft`` 256) no longer
matches the 16 kHz model, and frame agreement on the test clips through a telephone channel
fell from 73 % to 50-54 %; ``lw``/``pip`` moved either way lose 1 point. What does differ is the
channel's cepstral mean, far from the model's prior: a recognizer that starts an utterance
before it has heard enough to estimate it (a live stream) starts from the mean of its band.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from headcast.audio.band import is_telephone_band
from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio

_COMMON: dict[str, Any] = {"lw": 2.0, "pip": 0.1, "topn": 8, "bestpath": False}

ACCURATE_OPTIONS: dict[str, Any] = {
    **_COMMON,
    "allphone_ci": False,
    "beam": 1e-7,
    "pbeam": 1e-7,
}
"""Decoder options of the default recognizer (context-dependent phones, pruned beams)."""

FAST_OPTIONS: dict[str, Any] = {**_COMMON, "allphone_ci": True}
"""Decoder options of the fast recognizer (context-independent phones)."""


# Cepstral means of whole utterances, measured on the five GRID s1 sentences
# (tests/media/grid-s1.mp4) as recorded and through ``telephone_channel``. Streams starting from
# them agreed with the LibriVox references on 81 % of frames (wide band; 75 % from the model's
# prior) and 70 % (telephone; 53 %).
WIDE_BAND_CEPSTRAL_MEAN = "46.4,-2.0,3.1,11.1,2.9,1.5,-3.8,-1.7,-3.1,0.0,-2.0,-2.6,0.7"
TELEPHONE_CEPSTRAL_MEAN = "36.8,26.0,-38.1,35.3,-15.0,-12.4,8.9,-30.3,5.0,-9.9,-13.0,2.6,-12.1"


def cepstral_mean_prior(samples: np.ndarray) -> str:
    """The cepstral mean to start recognizing 16 kHz ``samples`` from (``set_cmn``'s format)."""
    audio = Audio(np.asarray(samples, np.float32), ANALYSIS_SAMPLE_RATE_HZ)
    return TELEPHONE_CEPSTRAL_MEAN if is_telephone_band(audio) else WIDE_BAND_CEPSTRAL_MEAN
