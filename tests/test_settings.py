"""The library's and the command line's environment variables: read at call time, checked,
listed in README.md, and read nowhere else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from headcast import settings
from headcast.settings import SettingError
from tests.conftest import ROOT, SAMPLES, clip_wav, run_cli

NAMES = sorted(
    v for k, v in vars(settings).items() if k.isupper() and str(v).startswith("HEADCAST_")
)


def test_defaults_without_the_variables(monkeypatch, tmp_path):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert settings.max_audio_s() == 600.0
    assert settings.cache_dir() == tmp_path / "headcast"
    assert settings.max_text_chars() == 5000
    assert settings.tts_backend() == "builtin"
    assert settings.tts_api_key() == ""
    assert settings.tts_model() == "tts-1"
    assert settings.tts_timeout_s() == 60.0
    assert settings.tts_retries() == 2
    assert settings.max_enrol_s() == 600.0
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings.cache_dir() == tmp_path / ".cache" / "headcast"


def test_values_are_read_at_each_call(monkeypatch, tmp_path):
    for name, value, read, expected in [
        ("HEADCAST_MAX_AUDIO_SECONDS", "12.5", settings.max_audio_s, 12.5),
        ("HEADCAST_CACHE_DIR", str(tmp_path), settings.cache_dir, tmp_path),
        ("HEADCAST_MAX_TEXT_CHARS", " 80 ", settings.max_text_chars, 80),
        ("HEADCAST_TTS", "http://tts:8000", settings.tts_backend, "http://tts:8000"),
        ("HEADCAST_TTS_API_KEY", "sk-1", settings.tts_api_key, "sk-1"),
        ("HEADCAST_TTS_MODEL", "tts-1-hd", settings.tts_model, "tts-1-hd"),
        ("HEADCAST_TTS_TIMEOUT", "2.5", settings.tts_timeout_s, 2.5),
        ("HEADCAST_TTS_RETRIES", "0", settings.tts_retries, 0),
        ("HEADCAST_MAX_ENROL_S", "90", settings.max_enrol_s, 90.0),
    ]:
        monkeypatch.setenv(name, value)
        assert read() == expected, name


@pytest.mark.parametrize(
    ("name", "value", "read", "message"),
    [
        ("HEADCAST_MAX_AUDIO_SECONDS", "ten", settings.max_audio_s, "must be a number"),
        ("HEADCAST_MAX_AUDIO_SECONDS", "0", settings.max_audio_s, "must be a positive number"),
        ("HEADCAST_MAX_AUDIO_SECONDS", "inf", settings.max_audio_s, "must be a positive number"),
        ("HEADCAST_MAX_TEXT_CHARS", "5k", settings.max_text_chars, "must be a whole number"),
        ("HEADCAST_MAX_TEXT_CHARS", "0", settings.max_text_chars, "must be at least 1"),
        ("HEADCAST_TTS_TIMEOUT", "-1", settings.tts_timeout_s, "must be a positive number"),
        ("HEADCAST_TTS_RETRIES", "1.5", settings.tts_retries, "must be a whole number"),
        ("HEADCAST_TTS_RETRIES", "-1", settings.tts_retries, "must be at least 0"),
        ("HEADCAST_MAX_ENROL_S", "-5", settings.max_enrol_s, "must be a positive number"),
    ],
)
def test_a_bad_value_names_the_variable(monkeypatch, name, value, read, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=rf"^\${name} {message}"):
        read()


def test_the_command_line_reports_a_bad_setting_in_one_line(tmp_path, monkeypatch):
    out = tmp_path / "o.mp4"
    monkeypatch.setenv("HEADCAST_MAX_AUDIO_SECONDS", "ten minutes")
    r = run_cli("animate", str(SAMPLES / "astronaut.png"), str(clip_wav("0880")), "-o", str(out))
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "headcast: error: $HEADCAST_MAX_AUDIO_SECONDS must be a number, got 'ten minutes'"
    ]
    assert not out.exists()


def test_readme_lists_every_setting_once():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(HEADCAST_[A-Z0-9_]+)` \|", section, re.MULTILINE)
    assert sorted(rows) == NAMES
    # Outside the table the README points at it rather than repeating variables.
    outside = readme.replace(section, "")
    assert not set(re.findall(r"HEADCAST_[A-Z0-9_]+", outside)) & set(NAMES)


def test_only_the_settings_module_reads_the_environment():
    package = ROOT / "src" / "headcast"
    # A variable read by name; handing the whole environment to a child process is no read.
    read = re.compile(r"environ\.get\(|environ\[|getenv\(|in os\.environ")
    readers = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if read.search(path.read_text()) and not path.is_relative_to(package / "server")
    ]
    assert readers == ["settings.py"]


def test_every_setting_has_its_function():
    source = Path(settings.__file__).read_text()
    for name in NAMES:
        constant = next(k for k, v in vars(settings).items() if v == name)
        assert re.search(rf"\(\s*{constant}\b", source), f"{name} is never read"
