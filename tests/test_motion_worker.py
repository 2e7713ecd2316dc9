"""The motion worker: a clip's motion made in another process, handed back batch by batch.

Each request is checked against ``clip_motion`` run in this process: the same frames
(FaceMotion values compared exactly), in the same batches, with the same phones.
"""

from __future__ import annotations

import logging
import subprocess
import threading

import numpy as np
import pytest

from headcast.audio.clip import Audio
from headcast.errors import HeadcastError, InputError
from headcast.live import motion_worker
from headcast.live.motion_worker import motion_in_worker
from headcast.motion.build import MotionBatch, MotionOptions, clip_motion
from headcast.motion.face_motion import FaceMotion
from headcast.phones import PhoneTrack, align_phones
from tests.conftest import CLIPS, joined_clips
from tests.test_phones import clip, transcript

OPTIONS = MotionOptions()


def made_here(audio: Audio, text: str | None) -> list[MotionBatch]:
    """The batches ``clip_motion`` makes in this process."""
    return list(clip_motion(audio, OPTIONS, transcript=text))


def joined(batches: list[MotionBatch]) -> tuple[list[FaceMotion], PhoneTrack | None]:
    """The frames of ``batches`` and their phones, as ``PendingMotion.result`` gives them."""
    return [m for batch in batches for m in batch.frames], batches[-1].track


def test_worker_makes_the_same_motion_and_replays_its_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = transcript("0880").replace("disposed", "dizposed")
    with caplog.at_level(logging.WARNING, logger="headcast.phones"):
        pending = [motion_in_worker(clip(name), OPTIONS, transcript=text_) for name, text_ in
                   (("0880", text), ("0870", None))]  # fmt: skip
        results = [p.result() for p in pending]
        assert motion_worker.worker_running()  # made there, not by falling back to this process
        assert "'dizposed' is not in the dictionary" in caplog.text
    assert results[0] == joined(made_here(clip("0880"), text))
    assert results[0][1] == align_phones(clip("0880"), text)
    assert results[1] == joined(made_here(clip("0870"), None))
    assert results[1][1].source == "recognition"
    for name, (frames, _) in zip(("0880", "0870"), results, strict=True):
        assert len(frames) == round(clip(name).duration_s * OPTIONS.fps)


def test_a_worker_started_ahead_serves_the_first_request() -> None:
    """``start_worker`` (the CLI calls it before loading the rest) leaves a worker up that the
    first request then uses, rather than starting another."""
    with motion_worker._worker_lock:
        if motion_worker._worker is not None:
            motion_worker._worker.close()
            motion_worker._worker = None
    motion_worker.start_worker()
    assert motion_worker.worker_running()
    assert motion_worker._worker is not None
    started = motion_worker._worker.process.pid
    motion_worker.start_worker()  # one is up already: nothing more starts
    assert motion_worker._worker.process.pid == started
    frames, track = motion_in_worker(clip("0870"), OPTIONS, transcript=transcript("0870")).result()
    assert motion_worker._worker.process.pid == started
    assert track == align_phones(clip("0870"), transcript("0870"))
    assert (frames, track) == joined(made_here(clip("0870"), transcript("0870")))


def test_batches_left_unread_stop_their_worker() -> None:
    """A caller that stops taking the batches (it failed, or gave up) stops the worker's
    decode; the next request gets a worker of its own."""
    audio, text = joined_clips(repeats=4)
    pending = motion_in_worker(audio, OPTIONS, transcript=text)
    batches = pending.batches()
    next(batches)
    running = motion_worker._worker
    assert running is not None
    batches.close()
    try:
        running.process.wait(timeout=10)  # decoding the rest would take longer
    except subprocess.TimeoutExpired:
        pytest.fail("the worker went on making motion that no one would read")
    assert motion_in_worker(clip("0930"), OPTIONS).result() == joined(made_here(clip("0930"), None))
    assert motion_worker._worker is not running and motion_worker.worker_running()


def test_worker_raises_the_callers_errors_and_outlives_a_crash() -> None:
    with pytest.raises(InputError, match="the audio is empty"):
        motion_in_worker(Audio(np.zeros(0, np.float32), 16000), OPTIONS, transcript="text").result()
    with pytest.raises(ValueError, match="clip_motion takes 16 kHz audio"):
        motion_in_worker(Audio(clip("0870").samples, 22050), OPTIONS).result()
    first = motion_worker._worker
    assert first is not None and first.process.poll() is None  # the errors left it running
    first.process.kill()
    first.process.wait()
    # A dead worker is replaced for the next request.
    frames, track = motion_in_worker(clip("0870"), OPTIONS, transcript=transcript("0870")).result()
    assert track == align_phones(clip("0870"), transcript("0870"))
    assert (frames, track) == joined(made_here(clip("0870"), transcript("0870")))
    assert motion_worker._worker is not first and motion_worker._worker.process.poll() is None


def test_worker_that_dies_on_a_request_fails_it_with_a_message() -> None:
    """The input may be what broke it: it is not retried in this process, the next request
    gets a new worker."""
    motion_in_worker(clip("0870"), OPTIONS, transcript=transcript("0870")).result()  # one is up
    first = motion_worker._worker
    assert first is not None
    # Recognition of all five clips takes seconds: the worker is killed well inside it.
    speech = Audio(np.concatenate([clip(name).samples for name in CLIPS]), 16000)
    pending = motion_in_worker(speech, OPTIONS)
    threading.Timer(0.3, first.process.kill).start()
    with pytest.raises(HeadcastError, match="the motion worker stopped"):
        pending.result()
    _, track = motion_in_worker(clip("0870"), OPTIONS, transcript=transcript("0870")).result()
    assert track == align_phones(clip("0870"), transcript("0870"))
    assert motion_worker._worker is not first


def test_worker_hands_over_the_batches_as_they_are_made(caplog: pytest.LogCaptureFixture) -> None:
    """The first batch comes back before the last piece of the speech is decoded: its last
    sentence, left out of the transcript, is recognized with a warning that the worker logs
    only once it reaches that piece, and which comes back with a later batch."""
    audio, _ = joined_clips()
    partial = " ".join(transcript(name) for name in CLIPS[:-1])
    no_words = "has no words in the transcript"
    batches = []
    with caplog.at_level(logging.WARNING, logger="headcast.phones"):
        for batch in motion_in_worker(audio, OPTIONS, transcript=partial).batches():
            if not batches:
                assert batch.frames and batch.track is None
                assert no_words not in caplog.text
            batches.append(batch)
        assert caplog.text.count(no_words) == 1, caplog.text
    assert motion_worker.worker_running()
    assert batches[-1].track is not None and batches[-1].track.source == "mixed"
    here = made_here(audio, partial)
    assert [len(b.frames) for b in batches] == [len(b.frames) for b in here]
    assert batches == here  # frame for frame, and the phones with the last
    assert len(joined(batches)[0]) == round(audio.duration_s * OPTIONS.fps)
