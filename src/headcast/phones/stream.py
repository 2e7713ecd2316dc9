"""Phone recognition on a stream: audio pushed in any chunks, phones known as they settle.

Audio is judged speech or not in fixed blocks whatever the push sizes, so the same audio gives
the same phones however it arrives. An utterance runs from the first block of speech to a
pause, which keeps the search small; noise, music and silence between utterances are never
decoded. Live, each utterance is decoded block by block and its partial segmentation read
after every block. ``whole_utterances`` decodes each utterance at its end instead, in one
pass with its own cepstral mean, as pocketsphinx's batch mode does; its phones are known only
then. Measured on the hard-audio table (``bench_lipsync.py --hard``), mouth shapes from whole
utterances against block by block: through a telephone channel 0.759 against 0.732 (clean
speech 0.831 against 0.835), room noise at 10 dB SNR 0.579 against 0.476, music under speech
0.793 against 0.724. A file is decoded block by block all the same, as a live stream is, so
that both make the same frames (``tests/test_one_motion.py``); only telephone-band files, and
pieces of clips recognized apart (``recognize_phones``), are decoded an utterance at a time.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pocketsphinx

from headcast.audio.clip import Audio
from headcast.audio.vad import MUSIC_WINDOW_S
from headcast.audio.voice_gate import BLOCK_MS, VoiceGate
from headcast.phones import sphinx
from headcast.phones.decoder_options import ACCURATE_OPTIONS, FAST_OPTIONS, cepstral_mean_prior
from headcast.phones.phoneset import normalize_label
from headcast.phones.track import SILENCE, Phone, PhoneTrack

PAUSE_TO_END_UTTERANCE_MS = 300.0
# A whole utterance is held until its end: speech without a pause this long is decoded in parts.
MAX_UTTERANCE_S = 30.0
SAMPLE_RATE = sphinx.SAMPLE_RATE


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
    """Incremental phone recognition over 16 kHz mono float32 audio.

    ``whole_utterances`` decodes each utterance when it ends (see the module's notes): its
    phones are known then, not as it is heard.
    """

    def __init__(self, *, fast: bool = True, whole_utterances: bool = False) -> None:
        self._fast = fast
        self._whole = whole_utterances
        self._utterance_audio: list[np.ndarray] = []  # the running utterance's blocks (whole)
        self._decoder: pocketsphinx.Decoder | None = _take_decoder(fast)
        self._block = int(SAMPLE_RATE * BLOCK_MS / 1000)
        self._pending = np.zeros(0, np.float32)
        self._consumed = 0  # samples decoded (or judged silent) so far
        self._final: list[Phone] = []  # phones of finished utterances
        self._partial: list[Phone] = []  # the running utterance's current best guess
        self._utt_start: int | None = None  # sample where the running utterance began
        self._quiet_ms = 0.0
        self._gate = VoiceGate()
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
        if self._whole and self._utt_start is not None:
            return self._utt_start / SAMPLE_RATE
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
            if not self._whole:
                decoder.end_utt()
            self._partial = []
            self._utterance_audio = []
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

    def _step(self, block: np.ndarray) -> None:
        speech = self._gate.is_voice(block)
        if self._gate.music_now and self._utt_start is not None:
            # What the recognizer heard in the last second was the music starting: drop it.
            onset = self._consumed / SAMPLE_RATE - MUSIC_WINDOW_S
            if self._whole:
                self._drop_utterance_after(onset)
                self._end_utterance()
            else:
                self._recognizer.end_utt()
                # The utterance's phones from before that second stay: speech the music follows.
                heard = self._final + self._partial
                self._final = [p for p in heard if p.end_s <= onset]
                self._partial = []
                self._utt_start = None
                self._quiet_ms = 0.0
        if speech:
            self._quiet_ms = 0.0
            if self._utt_start is None:
                if not self._whole:
                    self._recognizer.reinit_feat()
                    self._recognizer.start_utt()
                    self._recognizer.set_cmn(self._cepstral_mean or cepstral_mean_prior(block))
                self._utt_start = self._consumed
        elif self._utt_start is not None:
            self._quiet_ms += BLOCK_MS
        if self._utt_start is not None:
            if self._whole:
                self._utterance_audio.append(block)
            else:
                pcm = np.clip(np.rint(block * 32768.0), -32768, 32767).astype("<i2")
                self._recognizer.process_raw(pcm.tobytes(), False, False)
        self._consumed += len(block)
        if self._utt_start is not None:
            held_s = (self._consumed - self._utt_start) / SAMPLE_RATE
            if self._quiet_ms >= PAUSE_TO_END_UTTERANCE_MS or (
                self._whole and held_s >= MAX_UTTERANCE_S
            ):
                self._end_utterance()
            elif not self._whole:
                self._partial = self._segments()

    def _drop_utterance_after(self, time_s: float) -> None:
        """Let go of the running utterance's audio from ``time_s`` on (whole utterances)."""
        assert self._utt_start is not None
        keep = max(round(time_s * SAMPLE_RATE) - self._utt_start, 0)
        audio = np.concatenate(self._utterance_audio)[:keep] if self._utterance_audio else []
        self._utterance_audio = [np.asarray(audio, np.float32)] if len(audio) else []

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
        if self._whole:
            self._final.extend(self._decoded_utterance())
            self._utterance_audio = []
        else:
            self._recognizer.end_utt()
            self._cepstral_mean = self._recognizer.get_cmn(False)
            self._final.extend(self._segments())
        self._partial = []
        self._utt_start = None
        self._quiet_ms = 0.0

    def _decoded_utterance(self) -> list[Phone]:
        """The running utterance's phones, decoded whole (its digital silence cut out)."""
        if not self._utterance_audio:
            return []
        samples = np.concatenate(self._utterance_audio)
        utterance = sphinx.utterance(Audio(samples, SAMPLE_RATE))
        if not utterance.pcm:
            return []
        sphinx.decode(self._recognizer, utterance.pcm)
        rate = sphinx.FRAMES_PER_S
        spans = [
            (s.word, s.start_frame / rate, (s.end_frame + 1) / rate, 1.0)
            for s in self._recognizer.seg() or ()
        ]
        offset = (self._utt_start or 0) / SAMPLE_RATE
        return [
            Phone(normalize_label(label) or SILENCE, start + offset, end + offset, confidence)
            for label, start, end, confidence in utterance.original_spans(spans)
        ]
