"""``headcast say``: text → talking head, judged by an independent model against the
synthesizer's own phone timing."""

from __future__ import annotations

import pytest

from quality import lipsync
from quality.video import read_video
from tests.conftest import ROOT, SAMPLES

CASES = {
    "en-us": (
        "Peter picked a peck of pickled peppers. My mom made muffins, maybe, but Bob baked "
        "bread. Please bring both maps.",
        ".mp4",
    ),
    "fr": (
        "Papa a bu une bière. Maman prépare un bon pain, bien beau. "
        "Mon ami Pierre aime beaucoup la musique. Bon appétit, papa!",
        ".webm",
    ),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def said(request, tmp_path_factory, judge):
    """Run ``say`` for one language; keep the Speech it rendered as ground truth."""
    import headcast.speech
    from headcast.cli import main as speech_main

    voice = request.param
    text, suffix = CASES[voice]
    out = tmp_path_factory.mktemp("say") / f"say-{voice}{suffix}"
    spoken = []
    real = headcast.speech.synthesize

    def recording(*args, **kwargs):
        spoken.append(real(*args, **kwargs))
        return spoken[-1]

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEADCAST_CACHE_DIR", str(ROOT / ".pytest_cache" / "avatars"))
        mp.setattr(headcast.speech, "synthesize", recording)
        status = speech_main(
            ["say", str(SAMPLES / "astronaut.png"), text, "-o", str(out), "--voice", voice,
             "--no-head-motion", "-q"]
        )  # fmt: skip
    assert status == 0
    assert len(spoken) == 1
    video = read_video(out)
    return voice, spoken[0], video, judge.track(video.frames)


def test_video_matches_the_speech(said):
    voice, speech, video, _ = said
    assert video.fps == pytest.approx(25)
    assert abs(len(video.frames) - speech.duration_s * 25) <= 1
    assert abs(len(video.audio) / 16000 - speech.duration_s) < 0.1
    assert len(speech.words) == len(CASES[voice][0].split())


def test_lips_close_on_every_bilabial(said):
    voice, speech, video, measures = said
    phones = speech.phones.phones
    assert sum(p.label in lipsync.BILABIALS for p in phones) >= 20  # one miss allowed
    assert all(m is not None for m in measures)
    closure = lipsync.bilabial_closure(measures, phones, video.fps)
    assert closure >= 0.95, f"{voice}: bilabial closure {closure:.0%}"


def test_mouth_rests_in_pauses_and_opens_in_speech(said):
    _, speech, video, measures = said
    phones = speech.phones.phones
    assert lipsync.silence_rest(measures, phones, video.fps) >= 0.9
    apertures = lipsync.apertures_of(measures)
    expected = lipsync.expected_openness(phones, video.fps, len(apertures))
    assert lipsync.openness_correlation(apertures, expected) > 0.4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--voice", "en-us"], "the text is empty"),
        (["Hello.", "--voice", "qq"], "unknown voice 'qq'"),
        (["Hello there.", "--max-chars", "3"], "limit is 3"),
        (["Hello.", "--tts", "http://127.0.0.1:9"], "not reachable"),
    ],
)
def test_say_bad_input_fails_before_rendering(tmp_path, capsys, monkeypatch, args, message):
    from headcast.cli import main as speech_main

    monkeypatch.setenv("HEADCAST_TTS_RETRIES", "0")
    out = tmp_path / "out.mp4"
    text, *options = args
    assert speech_main(["say", str(SAMPLES / "astronaut.png"), text, "-o", str(out), *options]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
