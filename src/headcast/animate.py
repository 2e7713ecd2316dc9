"""The main job: a portrait and speech become a lip-synced talking-head video file."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import cast

import numpy as np

from headcast.audio import Audio
from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ
from headcast.audio.source import SpeechSource, read_for_analysis, speech_source
from headcast.enrol.portrait import enrolled_folder, prepare_portrait
from headcast.errors import InputError
from headcast.face import Avatar
from headcast.face.avatar import is_prepared, read_photo_file
from headcast.limits import DEFAULT_MAX_AUDIO_S, fps_error
from headcast.live.motion_worker import motion_in_worker as motion_in_worker_process
from headcast.live.motion_worker import worker_running
from headcast.motion.build import MotionBatch, MotionOptions, clip_motion, frame_count
from headcast.motion.face_motion import FaceMotion
from headcast.motion.head_intensity import HEAD_MOTION_DEFAULT, head_motion_intensity
from headcast.phones import PhoneTrack
from headcast.render import EngineSession, PlanningSession, get_engine
from headcast.render.capabilities import EngineCapabilities, EngineInput, EngineKind
from headcast.render.engine import RemoteEngineSession
from headcast.render.fallback import on_engine_or_fallback
from headcast.render.registry import check_engine, engine_capabilities, engine_for
from headcast.speech_fed_video import write_speech_fed_video
from headcast.video import VideoWriter

log = logging.getLogger(__name__)

OUTPUT_AUDIO_RATE_HZ = 48_000
SUPPORTED_OUTPUTS = (".mp4", ".webm")

ENCODE_QUEUE_FRAMES = 4
# Speech longer than this has its motion made in the worker even when nothing else would
# run meanwhile: the motion then costs the renderer no time.
MOTION_HERE_MAX_S = 10.0

ProgressCallback = Callable[[int, int], None]


class _TimedWriter:
    def __init__(self, writer: VideoWriter) -> None:
        self.writer = writer
        self.seconds = 0.0

    def write(self, frame: np.ndarray) -> None:
        started = time.perf_counter()
        self.writer.write(frame)
        self.seconds += time.perf_counter() - started


@dataclass(frozen=True)
class _Face:
    avatar: Avatar
    session: EngineSession
    seconds: float
    render_setup_s: float


class _ArrivingMotion:
    """The clip's frames of motion as they come; ``frame(i)`` waits for frame ``i``."""

    def __init__(self, batches: Iterator[MotionBatch], n_frames: int) -> None:
        self._batches = batches
        self._frames: list[FaceMotion] = []
        self._first = 0  # index of self._frames[0]
        self.n_frames = n_frames
        self.waited_s = 0.0

    def frame(self, index: int) -> FaceMotion:
        """Frame ``index``; frames before it are let go (a long clip's motion is not held)."""
        if index < self._first:
            raise IndexError(f"frame {index} was let go")
        while index - self._first >= len(self._frames) and self._take():
            pass
        if index - self._first >= len(self._frames):
            raise RuntimeError(f"the motion ended before frame {index}")
        del self._frames[: index - self._first]
        self._first = index
        return self._frames[0]

    def ready(self, index: int) -> list[FaceMotion]:
        """Frame ``index`` and those after it that have arrived already."""
        self.frame(index)
        return self._frames[index - self._first :]

    def finish(self) -> None:
        """Take what is left: the motion is made to its end, and an error on the way raised."""
        while self._take():
            pass

    def _take(self) -> bool:
        started = time.perf_counter()
        batch = next(self._batches, None)
        self.waited_s += time.perf_counter() - started
        if batch is None:
            return False
        self._frames += batch.frames
        return True


def _close_session(job: Future[_Face]) -> None:
    """Release the renderer of a face prepared for a job that failed elsewhere."""
    if not job.cancelled() and job.exception() is None:
        job.result().session.close()


@dataclass
class AnimateResult:
    output: Path
    n_frames: int
    fps: float
    audio_duration_s: float
    faces_found: int
    engine: str = ""  # the engine that made it: the fallback's name where it took over
    # Stages overlap (the photo is analysed and the renderer set up beside the phones, frames
    # encode beside rendering), so they add up to more than the wall-clock time. "phones" is
    # the time spent waiting for them: most are found while earlier frames render.
    stage_seconds: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0


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


def check_file_engine(name: str, *, size_px: int, fps: float) -> EngineCapabilities:
    """What the engine ``name`` can do, once it is known to render a file of ``size_px``
    squares at ``fps``; InputError naming it otherwise. For front ends, before any work."""
    # A file is drawn from FaceMotion, or by a remote engine from the speech itself; a local
    # engine fed the speech renders in a live session only.
    capabilities = engine_capabilities(name)
    from_speech = capabilities.kind is EngineKind.REMOTE and capabilities.input is EngineInput.AUDIO
    fed = None if from_speech else EngineInput.MOTION
    return check_engine(name, size_px=size_px, fps=fps, live=False, fed=fed)


def animate(
    image: str | Path | bytes,
    audio: str | Path | bytes | Audio,
    output: str | Path,
    *,
    text: str | None = None,
    phones: PhoneTrack | None = None,
    fps: float = 25.0,
    size: int = 512,
    engine: str | None = None,
    head_motion: float | bool = HEAD_MOTION_DEFAULT,
    correct_gaze: bool = False,
    seed: int = 0,
    max_audio_s: float = DEFAULT_MAX_AUDIO_S,
    check_reference: bool = True,
    allow_silence: bool = False,
    progress: ProgressCallback | None = None,
    motion_in_worker: bool | None = None,
) -> AnimateResult:
    """Render ``image`` speaking ``audio`` into ``output`` (.mp4: H.264+AAC, .webm: VP9+Opus).

    ``image`` is a portrait photo (a file or its bytes), or an enrolled avatar by name or
    folder (``headcast.enrol``). ``engine`` None draws it with its own engine: "enrolled"
    for an enrolled avatar, "warp" for a photo.
    ``audio`` is a file, its bytes, or decoded ``Audio``. Phones come from ``phones`` when the
    caller knows them (speech synthesis), else from forced alignment with ``text``, else from
    recognition. Silent audio is refused unless ``allow_silence`` (a chunk of a stream, which
    renders as idle frames). ``head_motion`` is how much the head moves, 0 (still) to 1 (the
    liveliest); a bool is read as the switch it was (True: the default). An enrolled avatar
    plays its recorded head at the default and above, and steadies it below. The face moves
    as a live session moves it for the same speech (only the phone recognizer is the more
    accurate one). ``motion_in_worker`` makes the motion in a worker process: frames are
    rendered as soon as their motion is final while the rest of the speech is decoded, and
    the caller's other threads keep running meanwhile. By default it is used where its
    start-up (about half a second) pays: when it is running already, when the phones must be
    found, when the photo must be analysed meanwhile, or for long speech.
    """
    render = partial(
        _animate_on,
        image,
        audio,
        output,
        text=text,
        phones=phones,
        fps=fps,
        size=size,
        head_motion=head_motion,
        correct_gaze=correct_gaze,
        seed=seed,
        max_audio_s=max_audio_s,
        check_reference=check_reference,
        allow_silence=allow_silence,
        progress=progress,
        motion_in_worker=motion_in_worker,
    )
    # The output is written whole or not at all: a fallback starts afresh.
    return on_engine_or_fallback(engine_for(image, engine), lambda name: render(engine=name))


def _animate_on(
    image: str | Path | bytes,
    audio: str | Path | bytes | Audio,
    output: str | Path,
    *,
    engine: str,
    text: str | None,
    phones: PhoneTrack | None,
    fps: float,
    size: int,
    head_motion: float | bool,
    correct_gaze: bool,
    seed: int,
    max_audio_s: float,
    check_reference: bool,
    allow_silence: bool,
    progress: ProgressCallback | None,
    motion_in_worker: bool | None,
) -> AnimateResult:
    started = time.perf_counter()
    out_path = check_output_path(output)
    problem = fps_error(fps)
    if problem:
        raise InputError(problem)
    try:
        intensity = head_motion_intensity(head_motion)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    enrolled = enrolled_folder(image)
    capabilities = check_file_engine(engine, size_px=size, fps=fps)
    from_speech = capabilities.input is EngineInput.AUDIO
    stages: dict[str, float] = {}

    t0 = time.perf_counter()
    # The speech at the video's rate is read twice, a chunk at a time, rather than held: here
    # for its analysis-rate copy, and again beside the frames, to be encoded.
    speech = speech_source(audio, OUTPUT_AUDIO_RATE_HZ, max_duration_s=max_audio_s)
    read = read_for_analysis(speech, ANALYSIS_SAMPLE_RATE_HZ)
    if not allow_silence and read.silent:
        raise InputError(
            f"{_name(audio, 'audio')}: the audio is silent; there is no speech to animate"
        )
    analysis, audio_duration_s = read.analysis, read.duration_s
    del read
    stages["audio"] = time.perf_counter() - t0

    renderer = get_engine(engine)

    name = _name(image, "image")
    # Read once: the avatar and the reference score are both looked up by the bytes.
    portrait: Path | bytes = (
        enrolled
        if enrolled is not None
        else read_photo_file(image, name)
        if isinstance(image, str | Path)
        else image
    )

    def prepare_face() -> _Face:
        started = time.perf_counter()
        avatar = prepare_portrait(portrait, size, name=name, head_motion=intensity)
        if correct_gaze:
            avatar = avatar.aimed_at_camera()
        if check_reference and isinstance(portrait, bytes):
            _warn_if_poor_reference(portrait, name)
        face_s = time.perf_counter() - started
        started = time.perf_counter()
        session = renderer.start(avatar)
        return _Face(avatar, session, face_s, time.perf_counter() - started)

    if from_speech:
        face = prepare_face()
        n_frames = frame_count(audio_duration_s, fps)
        stages["face"], stages["render_setup"] = face.seconds, face.render_setup_s
        # An engine fed the speech is a remote one: its sessions take requests (submit).
        remote = cast(RemoteEngineSession, face.session)
        stages["render"], stages["encode"] = write_speech_fed_video(
            remote, capabilities, speech, n_frames, out_path, size, fps, progress
        )
        return AnimateResult(
            output=out_path,
            n_frames=n_frames,
            fps=fps,
            audio_duration_s=audio_duration_s,
            faces_found=face.avatar.faces_found,
            engine=engine,
            stage_seconds=stages,
            wall_seconds=time.perf_counter() - started,
        )

    # The photo is analysed and the renderer set up while the motion is made (the two share
    # nothing), truly side by side when the motion comes from the worker: in this process the
    # phone decoder holds the GIL throughout.
    transcript = text if text and text.strip() else None
    options = MotionOptions(fps, seed, intensity)
    if motion_in_worker is None:
        motion_in_worker = (
            worker_running()
            or phones is None
            or (isinstance(portrait, bytes) and not is_prepared(portrait, size))
            or audio_duration_s > MOTION_HERE_MAX_S
        )
    pending = (
        motion_in_worker_process(analysis, options, phones=phones, transcript=transcript)
        if motion_in_worker
        else None
    )
    try:
        with ThreadPoolExecutor(max_workers=1) as helper:
            face_job = helper.submit(prepare_face)
            try:
                batches = (
                    pending.batches()
                    if pending is not None
                    else clip_motion(analysis, options, phones=phones, transcript=transcript)
                )
                motion = _ArrivingMotion(batches, frame_count(analysis.duration_s, fps))
                # Sent to the worker or held by the motion in this process: this copy of the
                # speech is not needed any more (10 minutes: 38 MB).
                del analysis
                motion.frame(0)  # bad speech fails here, before the face is waited for
            except BaseException:
                face_job.add_done_callback(_close_session)
                raise
            face = face_job.result()
        avatar = face.avatar
        stages["face"], stages["render_setup"] = face.seconds, face.render_setup_s

        render_s, encode_s = _write_video(
            motion, face.session, out_path, size, fps, speech, progress
        )
    except BaseException:
        if pending is not None:
            pending.cancel()  # its worker would go on decoding speech no one waits for
        raise
    motion.finish()  # the phones' end, which the last frames may not have needed
    stages["motion"] = motion.waited_s
    stages["render"], stages["encode"] = render_s, encode_s
    return AnimateResult(
        output=out_path,
        n_frames=motion.n_frames,
        fps=fps,
        audio_duration_s=audio_duration_s,
        faces_found=avatar.faces_found,
        engine=engine,
        stage_seconds=stages,
        wall_seconds=time.perf_counter() - started,
    )


def _write_video(
    motion: _ArrivingMotion,
    session: EngineSession,
    out_path: Path,
    size: int,
    fps: float,
    speech: SpeechSource,
    progress: ProgressCallback | None,
) -> tuple[float, float]:
    """Render every frame once its motion is settled, encoding beside; the renderer is closed
    after. Returns the seconds spent rendering and encoding."""
    render_s = 0.0
    try:
        with VideoWriter(out_path, size, size, fps, speech) as writer:
            encoder = _TimedWriter(writer)
            with ThreadPoolExecutor(max_workers=1) as encoding:
                # A few frames in flight bound the memory.
                in_flight: deque[Future[None]] = deque()
                planned_to = 0
                for i in range(motion.n_frames):
                    pose = motion.frame(i)
                    if isinstance(session, PlanningSession) and i >= planned_to:
                        ahead = motion.ready(i)
                        session.plan(ahead)
                        planned_to = i + len(ahead)
                    t0 = time.perf_counter()
                    frame = session.render(pose)
                    render_s += time.perf_counter() - t0
                    in_flight.append(encoding.submit(encoder.write, frame))
                    if len(in_flight) > ENCODE_QUEUE_FRAMES:
                        in_flight.popleft().result()
                    if progress is not None:
                        progress(i + 1, motion.n_frames)
                while in_flight:
                    in_flight.popleft().result()
            t0 = time.perf_counter()
        encoder.seconds += time.perf_counter() - t0
    finally:
        session.close()
    return render_s, encoder.seconds


def _warn_if_poor_reference(photo: bytes, name: str) -> None:
    """Say so when the photo is a poor choice to animate (turned, blurred, smiling...)."""
    from headcast.face.reference_score import poor_reference_warnings, score_photo

    for line in poor_reference_warnings(score_photo(photo, name)):
        log.warning("%s", line)


def _name(source: object, kind: str) -> str:
    return str(source) if isinstance(source, str | Path) else kind
