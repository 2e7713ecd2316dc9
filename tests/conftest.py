"""Shared test material: real photos, real speech with reference alignments, the judge."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "tests" / "media"
SAMPLES = ROOT / "samples"
CLIPS = ("0870", "0880", "0890", "0920", "0930")


def clip_wav(clip: str) -> Path:
    return MEDIA / f"librivox-{clip}.wav"


def clip_text(clip: str) -> str:
    return (MEDIA / f"librivox-{clip}.txt").read_text().strip()


JOIN_GAP_S = 0.4


def joined_clips(sample_rate: int = 16000, repeats: int = 1):
    """All the recordings one after another, ``JOIN_GAP_S`` apart, with their joined text:
    25 s of speech with real pauses, long enough to be decoded in pieces; ``repeats`` times
    over for speech whose decoding outlasts the first frames by far."""
    from headcast.audio import Audio, load_audio

    parts: list[np.ndarray] = []
    for clip in CLIPS * repeats:
        if parts:
            parts.append(np.zeros(round(JOIN_GAP_S * sample_rate), np.float32))
        parts.append(load_audio(clip_wav(clip), sample_rate=sample_rate).samples)
    text = " ".join(clip_text(clip) for clip in CLIPS * repeats)
    return Audio(np.concatenate(parts), sample_rate), text


def clip_pcm16(clip: str, sample_rate: int) -> np.ndarray:
    """The recording as int16 PCM at ``sample_rate``: what a live client or microphone sends."""
    from headcast.audio import load_audio

    samples = load_audio(clip_wav(clip), sample_rate=sample_rate).samples
    return np.clip(np.rint(samples * 32767), -32768, 32767).astype(np.int16)


def portrait_b64(name: str = "obama.jpg") -> str:
    """A test portrait as the base64 text of an ``image_b64`` field."""
    return base64.b64encode((MEDIA / name).read_bytes()).decode()


def reference_phones(clip: str) -> list:
    """The reference alignment shipped with the recording, as judge PhoneSpans."""
    from quality.lipsync import PhoneSpan, normalise_label

    data = json.loads((MEDIA / f"librivox-{clip}.phone.json").read_text())
    spans = []
    for word in data["w"]:
        for phone in word["w"]:
            label = phone["t"]
            label = "SIL" if label.startswith("+") else normalise_label(label)
            spans.append(PhoneSpan(label, float(phone["b"]), float(phone["b"]) + float(phone["d"])))
    return spans


def reference_track(clip: str, duration_s: float):
    """The reference alignment as a gapless PhoneTrack over ``[0, duration_s]``."""
    from headcast.phones.sphinx import build_track

    spans = [(p.label, p.start_s, p.end_s, 1.0) for p in reference_phones(clip)]
    return build_track(spans, duration_s, "reference")


def tolerant_agreement(truth: list[str], guess: list[str]) -> tuple[int, int]:
    """Frames whose guessed mouth shape is the true one at that frame or a neighbouring one
    (the ±1 frame of the lip-sync benchmarks), and the frames counted."""
    ok = sum(shape in truth[max(index - 1, 0) : index + 2] for index, shape in enumerate(guess))
    return ok, len(truth)


def run_cli(
    *args: str, cwd: Path | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real ``headcast`` command in a fresh process."""
    env = dict(os.environ, HEADCAST_CACHE_DIR=str(ROOT / ".pytest_cache" / "avatars"))
    return subprocess.run(
        [sys.executable, "-m", "headcast", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=env,
        input=stdin,
        timeout=600,
    )


@pytest.fixture(scope="session")
def judge():
    from quality.judge import FaceJudge

    return FaceJudge()


@pytest.fixture(scope="session")
def speech_pcm() -> np.ndarray:
    """LibriVox 0870 as int16 PCM at 16 kHz, for the live WebSocket protocols."""
    return clip_pcm16("0870", 16_000)


@pytest.fixture(scope="session")
def omnirt_remote(tmp_path_factory):
    """``headcast serve`` in another process, whose ``/v1/avatar/realtime`` is the remote
    "omnirt" engine; shared by the remote-engine tests that leave it running."""
    from tests.support.remote_serve import serving

    with serving(tmp_path_factory.mktemp("omnirt-remote") / "data") as server:
        yield server


@pytest.fixture(scope="session")
def omnirt_front(omnirt_remote, tmp_path_factory):
    """A second ``headcast serve`` whose "omnirt" engine is ``omnirt_remote``."""
    from tests.support.remote_serve import realtime_url, serving

    url = realtime_url(omnirt_remote.port)
    with serving(tmp_path_factory.mktemp("omnirt-front") / "data", engine_url=url) as server:
        yield server


# -- Markers (registered in pyproject.toml) ------------------------------------------------
# What a test needs beyond Python, and which tests the quick subset leaves out:
#     pytest -m "not slow and not browser and not redis"
# runs the rest in under a minute on two cores. Entries are test modules (every test in them)
# or module::test (every parameter of it); one place, so the quick subset reads as one list.
# An entry that names no test any more is an error, so a rename cannot unmark a test quietly.

BROWSER_TESTS = (
    "test_index_page",
    "test_live_page",
    "test_live_page_firefox",
    "test_hostile_http::test_api_docs_render_in_a_browser_under_their_policy",
)
REDIS_TESTS = (
    "test_jobs_redis",
    "test_deploy::test_two_replicas_from_the_container_command_share_jobs",
)
# Over about a second on two shared cores (pytest --durations), and whole modules whose tests
# each start a process, a server or a browser.
SLOW_TESTS = (
    "test_animate_cli",
    "test_engine_choice",
    "test_enrolled_service",
    "test_hostile_http",
    "test_hostile_live",
    "test_index_page",
    "test_jobs",
    "test_jobs_redis",
    "test_live_page",
    "test_live_page_firefox",
    "test_motion_worker",
    "test_one_motion",
    "test_openapi_fuzz",
    "test_quality_judge::test_lipsync_verdict_judges_a_render_of_a_known_recording",
    "test_reenactment_judge",
    "test_say",
    "test_session_processes",
    "test_stream_ws",
    "test_webrtc",
    "test_animate_route::test_audio_longer_than_the_limit_is_refused",
    "test_animate_route::test_full_render_pool_answers_429_with_retry_after",
    "test_animate_route::test_mp4_with_transcript_fps_and_size",
    "test_animate_route::test_webm_by_default_with_the_speech_and_a_face",
    "test_avatars::test_photo_over_the_pixel_limit_is_refused",
    "test_bad_input::test_audio_over_the_limit",
    "test_bad_input::test_face_too_small",
    "test_bad_input::test_image_that_is_not_an_image",
    "test_bad_input::test_missing_image",
    "test_bad_input::test_no_face",
    "test_bad_input::test_output_folder_missing",
    "test_bad_input::test_several_faces_animates_the_largest",
    "test_deploy::test_a_library_install_holds_no_web_stack",
    "test_deploy::test_two_replicas_from_the_container_command_share_jobs",
    "test_engine_kinds::test_audio_driven_engine_hears_each_frames_own_window_and_lookahead",
    "test_engine_kinds::test_audio_frames_wait_for_their_lookahead",
    "test_engine_kinds::test_remote_batch_keeps_frames_on_their_way_and_drops_interrupted_ones",
    "test_engine_kinds::test_remote_engine_is_asked_its_latency_ahead_and_paced",
    "test_engines_listing::test_engines_command_lists_warp_with_what_it_can_do",
    "test_enrol_cli::test_a_clip_that_cannot_be_enrolled_is_refused_leaving_nothing",
    "test_enrol_cli::test_an_enrolled_avatar_renders_through_animate_by_name",
    "test_enrol_cli::test_delete_removes_every_file",
    "test_enrol_cli::test_enrolled_avatar_is_its_files_and_nothing_else",
    "test_enrol_cli::test_enrolment_reports_what_the_clip_covers",
    "test_enrol_cli::test_list_shows_the_avatar_for_people_and_machines",
    "test_generate_route::test_base64_and_data_uri_inputs_and_unknown_config_keys",
    "test_generate_route::test_flashhead_http_client_gets_frames_of_the_portrait",
    "test_generate_route::test_without_a_shared_directory_generate_says_how_to_enable_it",
    "test_lipsync_export::test_cli_writes_stdout_and_files",
    "test_lipsync_export::test_cues_cover_the_audio_without_gaps",
    "test_lipsync_route::test_audio_is_judged_by_content_not_by_name",
    "test_lipsync_route::test_every_format_matches_the_library",
    "test_lipsync_route::test_fps_and_options_reach_the_export",
    "test_live_lipsync::test_any_sample_rate",
    "test_live_lipsync::test_chunking_does_not_change_the_frames",
    "test_live_lipsync::test_lips_close_on_bilabials_and_agree_with_batch",
    "test_live_lipsync::test_music_keeps_the_mouth_at_rest",
    "test_memory_bounds::test_analysis_memory_does_not_grow_with_the_speech",
    "test_memory_bounds::test_speech_without_pauses_is_decoded_in_bounded_pieces",
    "test_memory_bounds::test_streamed_prosody_is_final_once_measured",
    "test_memory_bounds::test_video_audio_from_a_stream_is_the_same_as_from_memory",
    "test_motion::test_bilabials_close_and_vowels_open",
    "test_motion::test_blinks_are_natural_and_motion_is_deterministic",
    "test_motion::test_frame_count_covers_the_audio",
    "test_motion::test_motion_made_as_the_pieces_arrive_is_the_whole_clips",
    "test_motion::test_pauses_blink_glance_and_accents_raise_the_brows",
    "test_omnirt_ws::test_a_photo_without_a_face_is_refused_in_protocol_terms",
    "test_omnirt_ws::test_flashhead_client_runs_a_whole_session",
    "test_omnirt_ws::test_frames_per_chunk_carry_the_remainder",
    "test_omnirt_ws::test_protocol_errors_are_answered_and_the_session_survives",
    "test_phones::test_each_guessed_word_is_reported_once",
    "test_phones::test_fast_recognition_frame_accuracy",
    "test_phones::test_long_speech_is_decoded_in_pieces_cut_in_its_pauses",
    "test_phones::test_non_speech_is_silence",
    "test_phones::test_phones_from_audio_dispatches_on_transcript",
    "test_phones::test_recognition_frame_accuracy",
    "test_phones::test_recognition_is_deterministic_and_thread_safe",
    "test_phones::test_speech_the_transcript_leaves_out_is_recognized",
    "test_phones::test_wrong_transcript_falls_back_to_recognition",
    "test_pick_reference::test_cli_no_usable_face_exits_2",
    "test_pick_reference::test_cli_table_json_sheet_and_best",
    "test_pick_reference::test_untouched_frontal_photo_ranks_first",
    "test_pick_reference_route::test_bad_uploads_name_the_file",
    "test_pick_reference_route::test_ranking_matches_the_command_line",
    "test_quality_judge::test_smiles_with_teeth_are_not_closed",
    "test_render::test_any_reasonable_portrait_speaks",
    "test_render::test_gaze_correction_re_aims_a_photo_that_looks_away",
    "test_render::test_rest_closes_the_mouth",
    "test_render::test_tongue_tip_rises_inside_the_open_mouth",
    "test_serve_extra::test_serve_without_the_extra_says_how_to_install_it",
    "test_server_basics::test_metrics_are_exposed",
    "test_server_basics::test_probes_and_json_errors",
    "test_service_security::test_a_transcript_is_not_a_way_around_the_limits",
    "test_service_security::test_cors_only_for_configured_origins",
    "test_service_security::test_decompression_bombs_are_refused_before_decoding",
    "test_service_security::test_each_upload_is_limited",
    "test_service_security::test_every_non_public_route_needs_a_key",
    "test_service_security::test_rate_limit_per_key_with_retry_after",
    "test_enrolled_avatar",
    "test_session::test_batch_session_pairs_every_frame_with_its_audio",
    "test_session::test_live_session_shows_idle_frames_between_turns",
    "test_session::test_idle_frames_at_head_motion_0_keep_the_head_still",
)


def _marks_by_entry() -> dict[str, list[str]]:
    marks: dict[str, list[str]] = {}
    for name, entries in (
        ("browser", BROWSER_TESTS),
        ("redis", REDIS_TESTS),
        ("slow", SLOW_TESTS),
    ):
        for entry in entries:
            module = entry.split("::")[0]
            if not (ROOT / "tests" / f"{module}.py").exists():
                raise pytest.UsageError(f"tests/conftest.py marks {entry}: no tests/{module}.py")
            marks.setdefault(entry, []).append(name)
    return marks


@pytest.hookimpl(tryfirst=True)  # before -m selects by them
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    marks = _marks_by_entry()
    checked: set[str] = set()
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        module = item.path.stem
        if module not in checked:
            checked.add(module)
            for entry in marks:
                prefix, _, test = entry.partition("::")
                if prefix == module and test and not hasattr(item.module, test):
                    raise pytest.UsageError(f"tests/conftest.py marks {entry}: no such test")
        for entry in (module, f"{module}::{item.originalname}"):
            for name in marks.get(entry, ()):
                item.add_marker(name)
