"""The worker threads that take jobs from the store and render them (or enrol a video).

``config.workers`` threads each loop: claim a job, render it, record the outcome. Progress is
reported a few times a second; the answer says whether the job is still this worker's (it may
have been cancelled, or taken over by another replica), and the render stops at the next frame
when it is not. Stopping the server gives running jobs back to the queue. A background thread
renews this worker's lease and requeues the jobs of workers whose lease has run out.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
from pathlib import Path

from headcast.animate import animate
from headcast.audio import Audio
from headcast.enrol import enrol_video
from headcast.errors import HeadcastError, InputError
from headcast.server.config import ServerConfig
from headcast.server.http.render_meter import RenderMeter
from headcast.server.jobs.avatar_store import AvatarStore
from headcast.server.jobs.record import JobFiles, JobKind, JobRecord, JobState
from headcast.server.jobs.store import JobStore
from headcast.speech import synthesize

log = logging.getLogger(__name__)

CLAIM_WAIT_S = 1.0  # a worker looks at the stop flag at least this often while idle
PROGRESS_INTERVAL_S = 0.25  # between progress reports (each is a store write)
STOP_WAIT_S = 15.0  # longest wait for workers to give their jobs back when stopping
LEASE_RENEWALS = 3  # lease renewals per lease period


class JobFailed(Exception):
    """The job cannot be done; ``code`` and the message go into its record."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class _NoLongerOurs(Exception):
    """The job was cancelled or taken over while it ran."""


class _Stopping(Exception):
    """The server is stopping; the job goes back to the queue."""


class JobWorkers:
    """The render workers of one server process."""

    def __init__(
        self, config: ServerConfig, store: JobStore, avatars: AvatarStore, files: JobFiles
    ) -> None:
        self.config = config
        self.store = store
        self.avatars = avatars
        self.files = files
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.store.keep_alive(self.worker_id, self.config.job_lease_s)
        found = self.store.recover(self.worker_id)
        if found:
            log.info("requeued or failed %d job(s) of stopped workers", found)
        self.files.root.mkdir(parents=True, exist_ok=True)
        targets = [self._maintain] + [self._work] * self.config.workers
        for i, target in enumerate(targets):
            thread = threading.Thread(target=target, name=f"headcast-jobs-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        deadline = time.monotonic() + STOP_WAIT_S
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _maintain(self) -> None:
        period_s = self.config.job_lease_s / LEASE_RENEWALS
        while not self.stopping.wait(period_s):
            try:
                self.store.keep_alive(self.worker_id, self.config.job_lease_s)
                self.store.recover(self.worker_id)
            except Exception:
                log.exception("renewing the worker lease failed; retrying")

    def _work(self) -> None:
        while not self.stopping.is_set():
            try:
                job = self.store.claim(self.worker_id, CLAIM_WAIT_S)
            except Exception:
                log.exception("taking a job from the queue failed; retrying")
                self.stopping.wait(CLAIM_WAIT_S)
                continue
            if job is None:
                continue
            try:
                self._run(job)
            except Exception:  # the store failed; the lease recovery will requeue the job
                log.exception("job %s: recording its outcome failed", job.id)

    def _run(self, job: JobRecord) -> None:
        enrol = job.kind == JobKind.ENROL
        if enrol:
            self.avatars.clear_partial_enrolment(job.avatar_id)
        else:
            folder = self.files.folder(job.id)
            folder.mkdir(parents=True, exist_ok=True)
            for stray in folder.glob(".*.part"):  # from a run cut short by a crash
                stray.unlink(missing_ok=True)
        log.info("job %s: attempt %d on %s", job.id, job.attempts, self.worker_id)
        try:
            made_by = None
            if enrol:
                self._enrol(job)
            else:
                made_by = self._render(job)
        except _Stopping:
            self.store.release(job.id, self.worker_id)
            return
        except _NoLongerOurs:
            self.store.finish(job.id, self.worker_id, JobState.CANCELLED)  # leaves state as is
            now = self.store.get(job.id)
            if now is None or now.state.finished:  # cancelled, not taken over: input unused
                self._input_used(job)
            return
        except JobFailed as exc:
            self._fail(job, exc.code, str(exc))
        except InputError as exc:
            self._fail(job, "bad_input", str(exc))
        except HeadcastError as exc:
            self._fail(job, "render_failed", str(exc))
        except Exception:
            log.exception("job %s failed", job.id)
            self._fail(job, "internal", "internal error while rendering the video")
        else:
            if not self.store.finish(job.id, self.worker_id, JobState.SUCCEEDED, engine=made_by):
                self._discard_output(job)  # cancelled at the last moment
        self._input_used(job)

    def _fail(self, job: JobRecord, code: str, message: str) -> None:
        self.store.finish(job.id, self.worker_id, JobState.FAILED, (code, message))
        self._discard_output(job)

    def _input_used(self, job: JobRecord) -> None:
        """The job is over: what it was given goes."""
        if job.kind == JobKind.ENROL:
            self.avatars.end_enrolment(job.avatar_id)
        else:
            self.files.audio(job.id).unlink(missing_ok=True)

    def _discard_output(self, job: JobRecord) -> None:
        if job.kind == JobKind.ENROL:
            folder = self.avatars.enrolled_folder(job.avatar_id)
            if folder is not None:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            self.files.video(job).unlink(missing_ok=True)

    def _enrol(self, job: JobRecord) -> None:
        source = self.avatars.video_path(job.avatar_id)
        output = self.avatars.enrolled_folder(job.avatar_id)
        if self.avatars.get(job.avatar_id) is None or source is None or not source.is_file():
            raise JobFailed("avatar_gone", f"avatar {job.avatar_id} was deleted before enrolment")
        assert output is not None
        progress = _ProgressReport(self, job)
        progress(0, 1)
        try:
            enrol_video(
                source,
                output,
                transcript=job.text,
                size_px=job.size_px,
                max_duration_s=self.config.max_enrol_s,
                progress=progress,
            )
        except InputError as exc:  # said without the server's paths
            said = str(exc).replace(f"video '{source}'", "the video")
            raise InputError(said.replace(str(source), "the video")) from None

    def _render(self, job: JobRecord) -> str | None:
        """Render the job's video; returns the engine that made it where it is not the one
        asked for (a fallback took over)."""
        record = self.avatars.get(job.avatar_id)
        portrait = None if record is None else self.avatars.portrait(record)
        if portrait is None:
            raise JobFailed("avatar_gone", f"avatar {job.avatar_id} was deleted before the job ran")
        progress = _ProgressReport(self, job)
        audio: Path | Audio
        if job.has_audio:
            audio = self.files.audio(job.id)
            text, phones = job.text, None
        else:
            speech = synthesize(job.text or "", job.voice, max_chars=self.config.max_text_chars)
            audio, text, phones = speech.audio, None, speech.phones
        progress(0, 1)
        result = animate(
            portrait,
            audio,
            self.files.video(job),
            text=text,
            phones=phones,
            fps=job.fps,
            size=job.size_px,
            engine=job.engine,
            max_audio_s=self.config.max_audio_s,
            check_reference=False,  # scored once, when the avatar was uploaded
            progress=progress,
            motion_in_worker=True,  # other requests keep running meanwhile
        )
        return result.engine if result.engine != job.engine else None


class _ProgressReport:
    """The ``animate`` progress callback of one job: reports, counts frames, obeys stops."""

    def __init__(self, workers: JobWorkers, job: JobRecord) -> None:
        self.workers = workers
        self.job = job
        self.reported_at = 0.0
        # Enrolment's progress counts frames analysed, not rendered.
        self.meter = RenderMeter() if job.kind == JobKind.RENDER else None

    def __call__(self, done: int, total: int) -> None:
        if self.workers.stopping.is_set():
            raise _Stopping
        if self.meter is not None:
            self.meter(done, total)
        now = time.monotonic()
        if done < total and now - self.reported_at < PROGRESS_INTERVAL_S:
            return
        self.reported_at = now
        percent = min(100.0 * done / max(total, 1), 99.9)  # 100 only once the file is written
        if not self.workers.store.report_progress(self.job.id, self.workers.worker_id, percent):
            raise _NoLongerOurs


def remove_job_files(files: JobFiles, job_id: str) -> None:
    shutil.rmtree(files.folder(job_id), ignore_errors=True)
