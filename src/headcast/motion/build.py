"""A whole clip's motion: the speech → motion step run over audio that is all there.

It is the same step a live stream runs (``LiveLipSync``), so a clip and the same speech
streamed move the face alike. The phones come from the caller (speech synthesis), from forced
alignment with a transcript or from recognition; frames come out in batches as soon as the
phones that shape them are known, so a video can be rendered from the first batch on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from headcast.audio.band import is_telephone_band
from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio
from headcast.audio.decode import resample
from headcast.errors import HeadcastError
from headcast.motion import tunables as T
from headcast.motion.face_motion import CONTROL_NAMES, FaceMotion, MotionTrack
from headcast.motion.head_intensity import head_motion_intensity
from headcast.motion.live import Frames, LiveLipSync
from headcast.phones.pieces import phones_in_pieces
from headcast.phones.source import KnownPhones, PhonesInPieces, PhoneSource
from headcast.phones.stream import PhoneStream
from headcast.phones.track import PhoneTrack

# Recognition is fed this much audio at a time, so the first frames go out early.
FEED_S = 1.0


@dataclass(frozen=True)
class MotionOptions:
    """How a clip's speech becomes motion. ``head_motion`` is the intensity of the head's
    motion, 0 (still) to 1 (liveliest); a bool is read as the switch it was (True: the default)."""

    fps: float = 25.0
    seed: int = 0
    head_motion: float = T.HEAD_MOTION_DEFAULT
    lookahead_ms: float = T.LOOKAHEAD_MS
    fast: bool = False  # the cheaper, less accurate phone recognizer

    def __post_init__(self) -> None:
        object.__setattr__(self, "head_motion", head_motion_intensity(self.head_motion))


@dataclass(frozen=True)
class MotionBatch:
    """Frames that became final, in order; the last batch of a clip also has its phones."""

    frames: list[FaceMotion]
    track: PhoneTrack | None = None


def frame_count(duration_s: float, fps: float) -> int:
    """Frames needed to cover ``duration_s``: the video ends within one frame of the audio."""
    return max(int(round(duration_s * fps)), 1)


def clip_motion(
    audio: Audio,
    options: MotionOptions,
    *,
    phones: PhoneTrack | None = None,
    transcript: str | None = None,
) -> Iterator[MotionBatch]:
    """The motion of ``audio`` (16 kHz mono) in batches: phones from ``phones`` when given,
    else forced alignment with ``transcript``, else recognition."""
    if audio.sample_rate != ANALYSIS_SAMPLE_RATE_HZ:
        raise ValueError("clip_motion takes 16 kHz audio")
    source: PhoneSource | None
    if phones is not None:
        source = KnownPhones(phones)
    elif transcript is not None:
        pieces = phones_in_pieces(audio, transcript, fast=options.fast)
        source = PhonesInPieces(pieces, audio.duration_s)
    else:
        # Recognized as a live stream hears it, so that a file and a stream make the same
        # frames; telephone-band speech, where a stream's running cepstral mean costs the
        # most, is decoded an utterance at a time (see ``phones.stream``).
        source = PhoneStream(fast=options.fast, whole_utterances=is_telephone_band(audio))
    lipsync = LiveLipSync(
        options.fps,
        lookahead_ms=options.lookahead_ms,
        seed=options.seed,
        head_motion=options.head_motion,
        fast=options.fast,
        phones=source,
    )
    try:
        feed = int(FEED_S * ANALYSIS_SAMPLE_RATE_HZ)
        for start in range(0, len(audio.samples), feed):
            # Phones found a piece at a time come first: the audio is heard no further ahead
            # of them than a feed, so the first frames go out with the first piece.
            while (
                not lipsync.phones.complete and lipsync.phones.known_s * audio.sample_rate < start
            ):
                known_s = lipsync.phones.known_s
                made = lipsync.hear_more_phones()
                if made:
                    yield MotionBatch(_motions(made))
                if lipsync.phones.known_s == known_s:
                    break
            made = lipsync.push_audio(audio.samples[start : start + feed], audio.sample_rate)
            if made:
                yield MotionBatch(_motions(made))
        # Frames made while phones are still being found go out at once; only those made
        # once they are all known (no decoding left) wait, so that the last has the phones.
        steps: list[Frames] = []
        for made in lipsync.finish_stepwise():
            if not lipsync.phones.complete:
                if made:
                    yield MotionBatch(_motions(made))
            else:
                steps.append(made)
        for made in steps[:-1]:
            if made:
                yield MotionBatch(_motions(made))
        yield MotionBatch(_motions(steps[-1]), lipsync.phones.track(0.0, math.inf))
    finally:
        lipsync.close()


def build_motion(
    track: PhoneTrack,
    audio: Audio,
    fps: float,
    *,
    seed: int = 0,
    head_motion: float | bool = T.HEAD_MOTION_DEFAULT,
    lookahead_ms: float = T.LOOKAHEAD_MS,
) -> MotionTrack:
    """FaceMotion for every frame of ``audio``, whose phones are ``track``, the head moving
    with intensity ``head_motion`` (0 to 1); the same inputs and seed give the same motion."""
    if audio.sample_rate != ANALYSIS_SAMPLE_RATE_HZ:
        audio = Audio(
            resample(audio.samples, audio.sample_rate, ANALYSIS_SAMPLE_RATE_HZ),
            ANALYSIS_SAMPLE_RATE_HZ,
        )
    options = MotionOptions(fps, seed, head_motion, lookahead_ms)
    frames, _ = collect_motion(clip_motion(audio, options, phones=track))
    return motion_track(frames, track, fps)


def collect_motion(batches: Iterable[MotionBatch]) -> tuple[list[FaceMotion], PhoneTrack]:
    """Every frame of a clip's batches, and the phones its last batch carries."""
    frames: list[FaceMotion] = []
    track: PhoneTrack | None = None
    for batch in batches:
        frames += batch.frames
        track = batch.track or track
    if track is None:
        raise HeadcastError("could not make the motion: the phones never came")
    return frames, track


def _motions(made: Frames) -> list[FaceMotion]:
    return [motion for _, motion in made]


def motion_track(frames: Iterable[FaceMotion], track: PhoneTrack, fps: float) -> MotionTrack:
    """The frames as one MotionTrack, with the Oculus viseme weights of ``track``."""
    rows = [[getattr(m, name) for name in CONTROL_NAMES] for m in frames]
    values = np.asarray(rows, np.float32).reshape(len(rows), len(CONTROL_NAMES))
    controls = {name: values[:, k].copy() for k, name in enumerate(CONTROL_NAMES)}
    return MotionTrack(fps=fps, controls=controls, visemes=_visemes(track, fps, len(rows)))


def _visemes(track: PhoneTrack, fps: float, n_frames: int) -> dict[str, np.ndarray] | None:
    try:
        from headcast.motion.oculus_visemes import oculus_viseme_weights
    except ImportError:
        return None
    return oculus_viseme_weights(track, fps, n_frames)
