"""Phone recognition on a live stream: audio pushed in any chunks, phones known as they settle.

Audio is decoded in fixed blocks whatever the push sizes, and the partial segmentation is read
after every block, so the same audio gives the same phones however it arrives. An utterance
ends at each pause found by voice-activity detection, which keeps the search small.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pocketsphinx

from headcast.audio.pitch import pitch_hz, steady_pitch_mask
from headcast.audio.vad import (
    MUSIC_STEADY_SHARE,
    MUSIC_WINDOW_S,
    SPEECH_ABOVE_NOISE_DB,
    SPEECH_MIN_DBFS,
    VAD_FRAME_MS,
)
from headcast.phones import sphinx
from headcast.phones.phoneset import normalize_label
from headcast.phones.recognize import ACCURATE_OPTIONS, FAST_OPTIONS, cepstral_mean_prior
from headcast.phones.track import SILENCE, Phone, PhoneTrack

BLOCK_MS = 40.0  # decoding step: one video frame at 25 fps
PAUSE_TO_END_UTTERANCE_MS = 300.0
NOISE_FLOOR_INIT_DBFS = -60.0
NOISE_FLOOR_RISE_DB_PER_S = 3.0  # the floor follows quiet frames at once and loud ones slowly
# The floor starts this far under the first block's quietest frame (never under the initial
# floor): noise present from the start is then no speech. On 8 s of room noise or music alone
# the mouth rested on 85 % of frames, against 5 % from the fixed floor; clean speech: -0.2
# points of shape agreement, at 10 dB SNR: -0.8.
NOISE_FLOOR_BELOW_FIRST_DB = 9.0
MUSIC_LEAVE_SHARE = 0.3
PITCH_CONTEXT_MS = 40.0  # audio before each block that its pitch frames need
MAX_SPEECH_FLATNESS = 0.35  # flatter blocks are noise (hiss, fans, rain), not voice
SAMPLE_RATE = sphinx.SAMPLE_RATE


def _spectral_flatness(block: np.ndarray) -> float:
    """Geometric over arithmetic mean of the power spectrum: ~0.56 for white noise, far lower for voice."""
    power = np.abs(np.fft.rfft(block.astype(np.float64) * np.hanning(len(block)))) ** 2 + 1e-18
    return float(np.exp(np.mean(np.log(power))) / np.mean(power))


# Loading a recognizer takes ~0.1 s of CPU: live streams open one per turn, so finished
# streams hand theirs back for the next to reuse (each utterance starts afresh anyway).
MAX_IDLE_DECODERS = 8
_idle_decoders: dict[bool, list[pocketsphinx.Decoder]] = {True: [], False: []}
_idle_lock = threading.Lock()


def _take_decoder(fast: bool) -> pocketsphinx.Decoder:
    with _idle_lock:
        if _idle_decoders[fast]:
            return _idle_decoders[fast].pop()
    options = FAST_OPTIONS if fast else ACCURATE_OPTIONS
    return pocketsphinx.Decoder(
        allphone=sphinx.model_path("en-us-phone.lm.bin"), loglevel="FATAL", **options
    )


class PhoneStream:
    """Incremental phone recognition over 16 kHz mono float32 audio."""

    def __init__(self, *, fast: bool = True) -> None:
        self._fast = fast
        self._decoder: pocketsphinx.Decoder | None = _take_decoder(fast)
        self._block = int(SAMPLE_RATE * BLOCK_MS / 1000)
        self._pending = np.zeros(0, np.float32)
        self._consumed = 0  # samples decoded (or judged silent) so far
        self._final: list[Phone] = []  # phones of finished utterances
        self._partial: list[Phone] = []  # the running utterance's current best guess
        self._utt_start: int | None = None  # sample where the running utterance began
        self._quiet_ms = 0.0
        self._noise_floor_db = NOISE_FLOOR_INIT_DBFS
        self._music_now = False
        self._context = np.zeros(int(SAMPLE_RATE * PITCH_CONTEXT_MS / 1000), np.float32)
        self._f0_history = np.full(int(MUSIC_WINDOW_S * 1000 / VAD_FRAME_MS), np.nan, np.float32)
        self._finished = False
        # The channel's cepstral mean, carried from one utterance to the next; the first starts
        # from its band's (see ``cepstral_mean_prior``), not the model's, heard far off.
        self._cepstral_mean: str | None = None

    @property
    def _recognizer(self) -> pocketsphinx.Decoder:
        if self._decoder is None:
            raise RuntimeError("the phone stream is closed")
        return self._decoder

    @property
    def decoded_s(self) -> float:
        return self._consumed / SAMPLE_RATE

    @property
    def known_s(self) -> float:
        return self.decoded_s

    @property
    def complete(self) -> bool:
        return self._finished

    def wait(self) -> None:
        return None  # phones are known as far as the audio pushed, at once

    def push(self, samples: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        while len(self._pending) >= self._block:
            block, self._pending = self._pending[: self._block], self._pending[self._block :]
            self._step(block)

    def finish(self) -> None:
        """Decode what is left (padded to a block) and close the running utterance; the
        phones stay readable, no more audio may come."""
        if len(self._pending):
            tail = len(self._pending)
            self._step(np.pad(self._pending, (0, self._block - tail)))
            self._consumed -= self._block - tail
            self._pending = np.zeros(0, np.float32)
        self._end_utterance()
        self._finished = True
        self.close()

    def close(self) -> None:
        """No more audio: hand the recognizer back for another stream (safe to repeat)."""
        decoder, self._decoder = self._decoder, None
        if decoder is None:
            return
        if self._utt_start is not None:  # dropped mid-utterance (an interrupt)
            decoder.end_utt()
            self._partial = []
            self._utt_start = None
        with _idle_lock:
            if len(_idle_decoders[self._fast]) < MAX_IDLE_DECODERS:
                _idle_decoders[self._fast].append(decoder)

    def track(self, since_s: float = 0.0, until_s: float = math.inf) -> PhoneTrack:
        """Phones from 0 to ``decoded_s``, gapless; the tail may still change.

        Phones that ended before ``since_s`` may be left out (silence stands in for them), so
        a live caller pays for the recent phones only, not for the whole stream so far.
        ``until_s`` changes nothing: the phones end where the audio decoded so far ends.
        """
        first = len(self._final)
        while first > 0 and self._final[first - 1].end_s > since_s:
            first -= 1
        # One phone before the cut stays, so the first kept one is clipped as in the full track.
        kept = self._final[max(first - 1, 0) :] + self._partial
        spans = [(p.label, p.start_s, p.end_s, p.confidence) for p in kept]
        return sphinx.build_track(spans, self.decoded_s, "recognition")

    def _speech(self, block: np.ndarray) -> bool:
        hop = int(SAMPLE_RATE * VAD_FRAME_MS / 1000)
        frames = block[: len(block) // hop * hop].reshape(-1, hop).astype(np.float64)
        levels = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
        quietest = float(levels.min())
        if self._consumed == 0:
            self._noise_floor_db = max(self._noise_floor_db, quietest - NOISE_FLOOR_BELOW_FIRST_DB)
        loud = (levels > self._noise_floor_db + SPEECH_ABOVE_NOISE_DB) & (levels > SPEECH_MIN_DBFS)
        rise = NOISE_FLOOR_RISE_DB_PER_S * BLOCK_MS / 1000
        self._noise_floor_db = min(quietest, self._noise_floor_db + rise)
        self._music_now = self._music(block)
        return (
            bool(loud.sum() >= 2)
            and _spectral_flatness(block) < MAX_SPEECH_FLATNESS
            and not self._music_now
        )

    def _music(self, block: np.ndarray) -> bool:
        """Held notes over the last second: music, not voice (see ``audio.vad.music_mask``)."""
        audio = np.concatenate([self._context, block])
        self._context = audio[-len(self._context) :]
        hops = len(block) // int(SAMPLE_RATE * VAD_FRAME_MS / 1000)
        f0 = pitch_hz(audio, SAMPLE_RATE)
        first = len(self._context) // int(SAMPLE_RATE * VAD_FRAME_MS / 1000)
        self._f0_history = np.concatenate([self._f0_history, f0[first : first + hops]])[
            -len(self._f0_history) :
        ]
        voiced = np.isfinite(self._f0_history)
        if voiced.sum() < 0.2 * len(voiced):
            return False  # too little voiced sound to be either
        share = steady_pitch_mask(self._f0_history).sum() / voiced.sum()
        # Hysteresis: once music is heard, it takes clearly unsteady pitch to leave it.
        threshold = MUSIC_LEAVE_SHARE if self._music_now else MUSIC_STEADY_SHARE
        return bool(share > threshold)

    def _step(self, block: np.ndarray) -> None:
        speech = self._speech(block)
        if self._music_now and self._utt_start is not None:
            # What the recognizer heard in the last second was the music starting: drop it.
            self._recognizer.end_utt()
            onset = self._consumed / SAMPLE_RATE - MUSIC_WINDOW_S
            # The utterance's phones from before that second stay: speech the music follows.
            heard = self._final + self._partial
            self._final = [p for p in heard if p.end_s <= onset]
            self._partial = []
            self._utt_start = None
            self._quiet_ms = 0.0
        if speech:
            self._quiet_ms = 0.0
            if self._utt_start is None:
                self._recognizer.reinit_feat()
                self._recognizer.start_utt()
                self._recognizer.set_cmn(self._cepstral_mean or cepstral_mean_prior(block))
                self._utt_start = self._consumed
        elif self._utt_start is not None:
            self._quiet_ms += BLOCK_MS
        if self._utt_start is not None:
            pcm = np.clip(np.rint(block * 32768.0), -32768, 32767).astype("<i2")
            self._recognizer.process_raw(pcm.tobytes(), False, False)
        self._consumed += len(block)
        if self._utt_start is not None:
            if self._quiet_ms >= PAUSE_TO_END_UTTERANCE_MS:
                self._end_utterance()
            else:
                self._partial = self._segments()

    def _segments(self) -> list[Phone]:
        offset = (self._utt_start or 0) / SAMPLE_RATE
        rate = sphinx.FRAMES_PER_S
        out = []
        for seg in self._recognizer.seg() or ():
            label = normalize_label(seg.word)
            start, end = offset + seg.start_frame / rate, offset + (seg.end_frame + 1) / rate
            out.append(Phone(label if label else SILENCE, start, end, 1.0))
        return out

    def _end_utterance(self) -> None:
        if self._utt_start is None:
            return
        self._recognizer.end_utt()
        self._cepstral_mean = self._recognizer.get_cmn(False)
        self._final.extend(self._segments())
        self._partial = []
        self._utt_start = None
        self._quiet_ms = 0.0
