"""The main job: a portrait and speech become a lip-synced talking-head video file."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from headcast.audio import Audio, conform_audio, is_silent, load_audio, resample
from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.errors import InputError
from headcast.face import prepare_avatar
from headcast.motion import build_motion
from headcast.phones import PhoneTrack, phones_from_audio
from headcast.render import get_engine
from headcast.video import VideoWriter

log = logging.getLogger(__name__)

OUTPUT_AUDIO_RATE_HZ = 48_000
DEFAULT_MAX_AUDIO_S = 600.0
SUPPORTED_OUTPUTS = (".mp4", ".webm")
MIN_FPS, MAX_FPS = 5.0, 60.0

ProgressCallback = Callable[[int, int], None]


@dataclass
class AnimateResult:
    output: Path
    n_frames: int
    fps: float
    audio_duration_s: float
    faces_found: int
    stage_seconds: dict[str, float] = field(default_factory=dict)


def check_output_path(output: str | Path) -> Path:
    """Fail before any work if the output can't be written."""
    path = Path(output)
    if path.suffix.lower() not in SUPPORTED_OUTPUTS:
        raise InputError(
            f"cannot write '{path}': unsupported extension '{path.suffix}' (use {', '.join(SUPPORTED_OUTPUTS)})"
        )
    if not path.parent.is_dir():
        raise InputError(f"cannot write '{path}': folder '{path.parent}' does not exist")
    if path.is_dir():
        raise InputError(f"cannot write '{path}': it is a folder")
    return path


def animate(
    image: str | Path | bytes,
    audio: str | Path | bytes | Audio,
    output: str | Path,
    *,
    text: str | None = None,
    phones: PhoneTrack | None = None,
    fps: float = 25.0,
    size: int = 512,
    engine: str = "warp",
    head_motion: bool = True,
    correct_gaze: bool = False,
    seed: int = 0,
    max_audio_s: float = DEFAULT_MAX_AUDIO_S,
    check_reference: bool = True,
    allow_silence: bool = False,
    progress: ProgressCallback | None = None,
) -> AnimateResult:
    """Render ``image`` speaking ``audio`` into ``output`` (.mp4: H.264+AAC, .webm: VP9+Opus).

    ``audio`` is a file, its bytes, or decoded ``Audio``. Phones come from ``phones`` when the
    caller knows them (speech synthesis), else from forced alignment with ``text``, else from
    recognition. Silent audio is refused unless ``allow_silence`` (a chunk of a stream, which
    renders as idle frames).
    """
    out_path = check_output_path(output)
    if not MIN_FPS <= fps <= MAX_FPS:
        raise InputError(f"fps must be between {MIN_FPS:g} and {MAX_FPS:g}")
    stages: dict[str, float] = {}

    t0 = time.perf_counter()
    if isinstance(audio, Audio):
        speech = conform_audio(audio, OUTPUT_AUDIO_RATE_HZ, max_duration_s=max_audio_s)
    else:
        speech = load_audio(audio, sample_rate=OUTPUT_AUDIO_RATE_HZ, max_duration_s=max_audio_s)
    if not allow_silence and is_silent(speech):
        raise InputError(
            f"{_name(audio, 'audio')}: the audio is silent; there is no speech to animate"
        )
    analysis = Audio(
        resample(speech.samples, OUTPUT_AUDIO_RATE_HZ, ANALYSIS_SAMPLE_RATE_HZ),
        ANALYSIS_SAMPLE_RATE_HZ,
    )
    stages["audio"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    avatar = prepare_avatar(image, size, name=_name(image, "image"))
    if correct_gaze:
        avatar = avatar.aimed_at_camera()
    if check_reference:
        _warn_if_poor_reference(image)
    stages["face"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    track = (
        phones
        if phones is not None
        else phones_from_audio(analysis, text if text and text.strip() else None)
    )
    stages["phones"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    motion = build_motion(track, analysis, fps, seed=seed, head_motion=head_motion)
    stages["motion"] = time.perf_counter() - t0

    session = get_engine(engine).start(avatar)
    render_s = encode_s = 0.0
    try:
        with VideoWriter(out_path, size, size, fps, speech) as writer:
            for i in range(motion.n_frames):
                t0 = time.perf_counter()
                frame = session.render(motion.frame(i))
                t1 = time.perf_counter()
                writer.write(frame)
                t2 = time.perf_counter()
                render_s += t1 - t0
                encode_s += t2 - t1
                if progress is not None:
                    progress(i + 1, motion.n_frames)
            t0 = time.perf_counter()
        encode_s += time.perf_counter() - t0
    finally:
        session.close()
    stages["render"] = render_s
    stages["encode"] = encode_s
    return AnimateResult(
        output=out_path,
        n_frames=motion.n_frames,
        fps=fps,
        audio_duration_s=speech.duration_s,
        faces_found=avatar.faces_found,
        stage_seconds=stages,
    )


def _warn_if_poor_reference(image: str | Path | bytes) -> None:
    """Say so when the photo is a poor choice to animate (turned, blurred, smiling...)."""
    from headcast.face.image_io import load_image
    from headcast.face.reference_score import poor_reference_warnings, score_reference

    name = _name(image, "image")
    for line in poor_reference_warnings(score_reference(load_image(image, name=name), name)):
        log.warning("%s", line)


def _name(source: object, kind: str) -> str:
    return str(source) if isinstance(source, str | Path) else kind
