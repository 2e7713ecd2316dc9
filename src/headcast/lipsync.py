"""Speech → lip-sync tracks for animators (no photo, no video).

``lipsync`` runs the same analysis as ``animate`` (phones, then per-frame motion) and adds
Rhubarb-style mouth cues; ``headcast.motion.export`` writes the result as Rhubarb
TSV/JSON/XML, Moho DAT, Oculus visemes or ARKit blendshapes.
"""

from __future__ import annotations

from pathlib import Path

from headcast.audio import Audio, conform_audio, load_audio
from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.errors import InputError
from headcast.limits import DEFAULT_MAX_AUDIO_S, fps_error
from headcast.live.motion_worker import motion_in_worker as motion_in_worker_process
from headcast.motion.build import MotionOptions, clip_motion, collect_motion, motion_track
from headcast.motion.export import FORMATS, LipSyncResult, export
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT, head_motion_intensity
from headcast.motion.mouth_cues import EXTENDED_SHAPES, mouth_cues
from headcast.phones import PhoneTrack


def lipsync(
    audio: str | Path | bytes | Audio,
    text: str | None = None,
    fps: float = 25.0,
    *,
    extended_shapes: str = EXTENDED_SHAPES,
    phones: PhoneTrack | None = None,
    sound_file: str | None = None,
    fast: bool = False,
    head_motion: float | bool = HEAD_MOTION_DEFAULT,
    seed: int = 0,
    max_audio_s: float = DEFAULT_MAX_AUDIO_S,
    motion_in_worker: bool = False,
) -> LipSyncResult:
    """Mouth cues, visemes and face motion for ``audio`` (a file, its bytes, or ``Audio``).

    Phones come from ``phones`` when the caller knows them, else from ``text`` (plain lines,
    or SubRip, WebVTT or ``.stm`` with times): aligned where it fits the speech, a guide to
    recognition elsewhere, how much of each in ``result.track.coverage``; else from
    recognition (``fast``: the cheaper, less accurate recognizer);
    ``motion_in_worker`` makes the motion in a worker process, which keeps a server's other
    threads running meanwhile. The motion is the one ``animate`` renders for the same speech.
    ``fps`` is the frame rate of the per-frame tracks (visemes, blendshapes, DAT frames);
    ``extended_shapes`` the optional mouth shapes (of G, H, X) the character has;
    ``head_motion`` how much the head tracks move, 0 (still) to 1 (the liveliest).
    Raises InputError for unusable audio or options.
    """
    problem = fps_error(fps)
    if problem:
        raise InputError(problem)
    try:
        intensity = head_motion_intensity(head_motion)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    shapes = extended_shapes.upper()
    if set(shapes) - set(EXTENDED_SHAPES):
        raise InputError(f"extended shapes must be among G, H and X, got '{extended_shapes}'")
    if isinstance(audio, Audio):
        speech = conform_audio(audio, ANALYSIS_SAMPLE_RATE_HZ, max_duration_s=max_audio_s)
        name = sound_file or ""
    else:
        speech = load_audio(audio, sample_rate=ANALYSIS_SAMPLE_RATE_HZ, max_duration_s=max_audio_s)
        name = sound_file if sound_file is not None else _name(audio)
    transcript = text if text and text.strip() else None
    options = MotionOptions(fps, seed, intensity, fast=fast)
    if motion_in_worker:
        frames, phones = motion_in_worker_process(
            speech, options, phones=phones, transcript=transcript
        ).result()
    else:
        frames, phones = collect_motion(
            clip_motion(speech, options, phones=phones, transcript=transcript)
        )
    motion = motion_track(frames, phones, fps)
    cues = tuple(mouth_cues(phones, extended=shapes))
    return LipSyncResult(phones, cues, motion, fps, name, shapes)


def _name(source: object) -> str:
    return str(source) if isinstance(source, str | Path) else ""


__all__ = ["FORMATS", "LipSyncResult", "export", "lipsync"]
