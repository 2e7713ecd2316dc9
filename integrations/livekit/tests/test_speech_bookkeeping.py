"""The conversions and bookkeeping under the generator, on real speech."""

from __future__ import annotations

import numpy as np

from headcast_livekit.speech_input import SpeechResampler, mono_int16
from headcast_livekit.unplayed_speech import TurnEnd, UnplayedSpeech
from material import SPEECH_RATE_HZ, as_tts_frames, resampled, speech
from stream_items import best_correlation


def test_a_turn_at_48_khz_stereo_becomes_the_same_speech_at_24_khz_mono() -> None:
    pcm = speech(0.0, 2.0)
    resampler = SpeechResampler(24_000)
    out = np.concatenate(
        [resampler.push(f) for f in as_tts_frames(pcm, rate_hz=48_000, channels=2)]
        + [resampler.flush()]
    )
    assert out.dtype == np.int16
    assert abs(len(out) - 48_000) <= 24  # 2 s, to within a millisecond
    assert best_correlation(out, resampled(pcm, 24_000), 480) > 0.99


def test_speech_already_at_the_rate_passes_unchanged() -> None:
    pcm = speech(0.0, 0.5)
    frames = as_tts_frames(pcm, rate_hz=SPEECH_RATE_HZ, channels=1)
    resampler = SpeechResampler(SPEECH_RATE_HZ)
    assert np.array_equal(np.concatenate([resampler.push(f) for f in frames]), pcm)
    assert len(resampler.flush()) == 0
    assert np.array_equal(mono_int16(frames[0]), pcm[:320])


def test_unplayed_speech_is_taken_by_frames_and_a_turn_end_is_never_eaten() -> None:
    unplayed = UnplayedSpeech(16_000)
    first, second = speech(0.0, 1.0), speech(1.0, 0.5)
    unplayed.add(first)
    unplayed.end_turn()
    unplayed.add(second)
    # 24 frames of 40 ms at 24 kHz out: 0.96 s of the first turn's 1 s.
    for _ in range(24):
        unplayed.played(960, 24_000)
    assert abs(unplayed.duration_s - 0.54) < 1e-9
    # Two more frames (the last one padded) stop at the turn's end.
    unplayed.played(960, 24_000)
    unplayed.played(960, 24_000)
    items = unplayed.take_all()
    assert isinstance(items[0], TurnEnd)
    assert np.array_equal(items[1], second)
    unplayed.add(first)
    unplayed.end_turn()
    unplayed.turn_finished()
    assert unplayed.take_all() == []
