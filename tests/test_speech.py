"""Text → speech: the built-in eSpeak voice, the phone mapping, sentences, TTS servers, the CLI."""

from __future__ import annotations

import io
import itertools
import json
import socket
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from headcast.cli import main as speech_main
from headcast.errors import HeadcastError, InputError
from headcast.phones import BILABIALS, PHONE_SET, VOWELS
from headcast.speech import (
    HttpSpeechBackend,
    OpenAISpeechBackend,
    SpeechServerError,
    join_speech,
    list_voices,
    split_sentences,
    synthesize,
    synthesize_stream,
)
from headcast.speech.phone_map import map_phoneme

PANGRAM = "The quick brown fox jumps over the lazy dog."


def assert_covers(speech) -> None:
    """Gapless, monotonic, from 0 to exactly the end of the audio, known labels only."""
    phones = speech.phones.phones
    assert phones, "no phones"
    assert phones[0].start_s == 0.0
    assert speech.phones.duration_s == pytest.approx(speech.audio.duration_s, abs=1e-9)
    assert phones[-1].end_s == pytest.approx(speech.audio.duration_s, abs=1e-9)
    for a, b in itertools.pairwise(phones):
        assert a.end_s == b.start_s, (a, b)
    assert all(p.end_s > p.start_s for p in phones)
    assert {p.label for p in phones} <= PHONE_SET


# ---------------------------------------------------------------- built-in voice


def test_builtin_speech_and_track_cover_each_other():
    speech = synthesize("Hello world. My name is Bob, and I like maps!")
    assert speech.audio.sample_rate == 22050
    assert speech.phones.source == "synthesis"
    assert 2.0 < speech.duration_s < 6.0
    assert_covers(speech)
    assert np.abs(speech.audio.samples).max() > 0.1  # real sound, not silence
    # Pauses at the comma and between sentences are silence in the track.
    assert sum(p.is_silence and p.duration_s > 0.1 for p in speech.phones.phones) >= 2


def test_words_round_trip_in_order_with_plausible_times():
    speech = synthesize(PANGRAM)
    assert [w.word for w in speech.words] == PANGRAM.rstrip(".").split()
    for a, b in itertools.pairwise(speech.words):
        assert a.start_s < a.end_s <= b.start_s + 1e-9
    assert speech.words[-1].end_s <= speech.duration_s
    for word in speech.words:  # each word's time holds its speech, not a pause
        inside = [p for p in speech.phones.phones if word.start_s <= p.start_s < word.end_s]
        assert inside and all(not p.is_silence for p in inside), word
        assert 0.05 < word.end_s - word.start_s < 1.0


def test_numbers_and_abbreviations_keep_their_written_words():
    speech = synthesize("Mr. Smith's 1984 e-mail.")
    assert [w.word for w in speech.words] == ["Mr", "Smith's", "1984", "e-mail"]
    assert speech.words[2].end_s - speech.words[2].start_s > 0.6  # "nineteen eighty four"


def test_bilabials_are_in_the_track_where_the_lips_close():
    speech = synthesize("Peter bought my map.")
    labels = [p.label for p in speech.phones.phones]
    assert labels.count("P") >= 2 and "B" in labels and labels.count("M") >= 2
    # The stop's closure silence belongs to the stop: /p/ starts where the sound stops.
    rate = speech.audio.sample_rate
    for before, phone in itertools.pairwise(speech.phones.phones):
        if phone.label == "P" and not before.is_silence:
            closure = speech.audio.samples[
                int(phone.start_s * rate) : int(phone.start_s * rate) + 200
            ]
            assert np.abs(closure).max() < 1e-3


def test_english_phones_are_exact_arpabet():
    speech = synthesize("She sees the cat.")
    spoken = [p.label for p in speech.phones.phones if not p.is_silence]
    assert spoken == ["SH", "IY", "S", "IY", "Z", "DH", "AH", "K", "AE", "T"]


@pytest.mark.parametrize(
    ("voice", "text"),
    [
        ("en-us", "Bob bought a map."),
        ("de", "Mama backt Brot mit Butter."),
        ("fr", "Papa a bu une bière."),
        ("es", "Pablo bebe mucho vino blanco."),
    ],
)
def test_languages_give_speech_and_phones(voice, text):
    speech = synthesize(text, voice)
    assert_covers(speech)
    labels = [p.label for p in speech.phones.phones]
    assert sum(label in VOWELS for label in labels) >= 4
    assert sum(label in BILABIALS for label in labels) >= 3
    assert len(speech.words) == len(text.split())


def test_rate_and_pitch():
    slow = synthesize(PANGRAM, rate_wpm=120)
    fast = synthesize(PANGRAM, rate_wpm=300)
    assert fast.duration_s < 0.7 * slow.duration_s
    low = synthesize(PANGRAM, pitch=10)
    high = synthesize(PANGRAM, pitch=90)
    assert not np.array_equal(low.audio.samples[:5000], high.audio.samples[:5000])
    with pytest.raises(InputError, match="rate must be between 80 and 450"):
        synthesize(PANGRAM, rate_wpm=20)
    with pytest.raises(InputError, match="pitch must be between 0 and 99"):
        synthesize(PANGRAM, pitch=150)


def test_voices_are_listed_and_resolved():
    voices = list_voices()
    codes = {v.language for v in voices}
    assert len(voices) > 50
    assert {"en-us", "de", "fr-fr", "es"} <= codes
    assert (
        synthesize("Hi.", "fr-fr").duration_s > 0
    )  # a listed code that eSpeak's own lookup misses
    assert synthesize("Hi.", "en_US+f3").duration_s > 0  # variant, underscore spelling


def test_unknown_voice_empty_and_long_text_are_input_errors(monkeypatch):
    with pytest.raises(InputError, match=r"unknown voice 'xx-nope'.*en-us.*--list-voices"):
        synthesize("Hello.", "xx-nope")
    with pytest.raises(InputError, match="unknown voice variant"):
        synthesize("Hello.", "en-us+nobody")
    for empty in ("", "   \n\t "):
        with pytest.raises(InputError, match="empty"):
            synthesize(empty)
    with pytest.raises(InputError, match="5,000"):
        synthesize("word " * 1200)
    with pytest.raises(InputError, match="limit is 10 "):
        synthesize("Hello there world.", max_chars=10)
    monkeypatch.setenv("HEADCAST_MAX_TEXT_CHARS", "8")
    with pytest.raises(InputError, match="HEADCAST_MAX_TEXT_CHARS"):
        synthesize("Hello there.")


def test_many_threads_share_the_engine_safely():
    # eSpeak's pitch flutter runs on from call to call, so the same text can differ by a
    # few milliseconds between calls: compare phones and lengths, not samples.
    texts = [f"Sentence number {i}, with {i} maps." for i in range(8)]
    expected = [synthesize(t) for t in texts]
    results: dict[int, list] = {}

    def work(i: int) -> None:
        results[i] = [synthesize(texts[i], rate_wpm=175) for _ in range(3)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, alone in enumerate(expected):
        for speech in results[i]:
            assert [p.label for p in speech.phones.phones] == [p.label for p in alone.phones.phones]
            assert [w.word for w in speech.words] == [w.word for w in alone.words]
            assert speech.duration_s == pytest.approx(alone.duration_s, abs=0.03)


def test_synthesis_is_much_faster_than_real_time():
    synthesize("Warm up.")
    start = time.perf_counter()
    speech = synthesize(PANGRAM * 5)
    elapsed = time.perf_counter() - start
    assert speech.duration_s / elapsed > 50


# ---------------------------------------------------------------- sentences and streaming


def test_sentences_split_at_boundaries_not_abbreviations():
    text = 'Dr. Jones paid $3.50 for it. Really?! Yes... "Quite so." e.g. this one.\n\nNew part'
    assert split_sentences(text) == [
        "Dr. Jones paid $3.50 for it.",
        "Really?!",
        "Yes...",
        '"Quite so." e.g. this one.',
        "New part",
    ]
    long = split_sentences("one two, " * 100, max_chars=100)
    assert all(len(s) <= 100 for s in long) and len(long) >= 9


def test_stream_yields_each_sentence_and_joins_exactly():
    text = "First sentence here. Second one is a bit longer than the first. Third!"
    pieces = list(synthesize_stream(text))
    assert len(pieces) == 3
    for piece in pieces:
        assert_covers(piece)
    whole = join_speech(pieces)
    assert_covers(whole)
    assert len(whole.audio.samples) == sum(len(p.audio.samples) for p in pieces)
    assert [w.word for w in whole.words] == [w.word for p in pieces for w in p.words]
    third = pieces[0].duration_s + pieces[1].duration_s
    assert whole.words[-1].start_s == pytest.approx(third + pieces[2].words[0].start_s)
    assert synthesize(text).duration_s == pytest.approx(whole.duration_s, abs=0.05)
    # Errors come before any speech is made.
    with pytest.raises(InputError):
        synthesize_stream("Hello.", "xx-nope")


# ---------------------------------------------------------------- phone mapping


@pytest.mark.parametrize(
    ("ipa", "language", "labels"),
    [
        ("ˈaɪɚ", "en-us", ["AY", "ER"]),
        ("ɑːɹ", "en-us", ["AA", "R"]),
        ("ɾ", "en-us", ["T"]),
        ("ˈa", "en-gb", ["AE"]),
        ("ˈa", "es", ["AA"]),
        ("pf", "de", ["P", "F"]),
        ("ts", "de", ["T", "S"]),
        ("ˈɔø", "de", ["OY"]),
        ("ç", "de", ["HH"]),
        ("ˈyː", "de", ["UW"]),
        ("ˈœ", "de", ["AO"]),
        ("ʁ", "fr", ["G"]),
        ("ˈɛ̃", "fr", ["EH"]),
        ("ɥ", "fr", ["W"]),
        ("β", "es", ["B"]),
        ("ɾ", "es", ["D"]),
        ("ɲ", "es", ["N"]),
        ("tɕ", "pl", ["CH"]),
        ("mʲ", "ru", ["M"]),
        ("", "de", ["SIL"]),
        ("(en)", "fr", []),
    ],
)
def test_phone_map(ipa, language, labels):
    assert [label for label, _ in map_phoneme(ipa, language)] == labels


# ---------------------------------------------------------------- TTS servers


def _wav_bytes(text: str) -> bytes:
    speech = synthesize(text)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(speech.audio.sample_rate)
        w.writeframes((np.clip(speech.audio.samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


class _Handler(BaseHTTPRequestHandler):
    calls: ClassVar[list[dict]] = []
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self, body: bytes) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.calls.append(
            {"path": url.path, "query": query, "body": body, "headers": dict(self.headers)}
        )
        if url.path == "/v1/audio/speech":
            self._reply(200, _wav_bytes(json.loads(body)["input"]), "audio/wav")
        elif url.path == "/tts":
            self._reply(200, _wav_bytes(query["text"]), "audio/wav")
        elif url.path == "/post":
            self._reply(200, _wav_bytes(json.loads(body)["text"]), "application/octet-stream")
        elif url.path == "/slow":
            time.sleep(3)
            self._reply(200, b"late", "audio/wav")
        elif url.path == "/fail":
            self._reply(500, b"model crashed", "text/plain")
        elif url.path == "/bad":
            self._reply(400, b'{"error": "no such voice"}', "application/json")
        elif url.path == "/html":
            self._reply(200, b"<html><body>Welcome to nginx!</body></html>", "text/html")
        elif url.path == "/noise":
            self._reply(200, bytes(range(256)) * 40, "audio/mpeg")
        else:
            self._reply(404, b"not found", "text/plain")

    def do_GET(self):
        self._handle(b"")

    def do_POST(self):
        self._handle(self.rfile.read(int(self.headers.get("Content-Length", 0))))


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def calls():
    _Handler.calls.clear()
    return _Handler.calls


def test_openai_style_server(server, calls, monkeypatch):
    monkeypatch.setenv("HEADCAST_TTS_API_KEY", "sk-test")
    text = "Bob made a map of the bay. Then he went home."
    speech = synthesize(text, "nova", backend=server, rate_wpm=210)
    assert [c["path"] for c in calls] == ["/v1/audio/speech"]  # grouped into one request
    sent = json.loads(calls[0]["body"])
    assert sent["input"] == text and sent["voice"] == "nova" and sent["response_format"] == "wav"
    assert sent["model"] == "tts-1" and sent["speed"] == pytest.approx(1.2)
    assert calls[0]["headers"]["Authorization"] == "Bearer sk-test"
    assert_covers(speech)
    assert speech.phones.source == "alignment"
    labels = [p.label for p in speech.phones.phones]
    assert labels.count("M") >= 3 and "B" in labels
    assert len(speech.words) == len(text.split())


def test_generic_get_and_post_endpoints(server, calls):
    speech = synthesize("My map.", "anna", backend=f"{server}/tts?text={{text}}&speaker={{voice}}")
    assert calls[-1]["query"] == {"text": "My map.", "speaker": "anna"}
    assert_covers(speech)
    speech = synthesize("My map.", backend=f"json:{server}/post")
    assert json.loads(calls[-1]["body"]) == {"text": "My map."}  # no voice: left to the server
    assert_covers(speech)
    backend = HttpSpeechBackend(
        f"{server}/post", body="json", fields={"text": "{text}", "lang": "en-{voice}"}
    )
    synthesize("Hi.", "us", backend=backend)
    assert json.loads(calls[-1]["body"]) == {"text": "Hi.", "lang": "en-us"}


def test_server_timeout_fails_fast(server, calls):
    backend = HttpSpeechBackend(f"{server}/slow", body="json", timeout_s=0.5, retries=2)
    start = time.perf_counter()
    with pytest.raises(SpeechServerError, match=r"did not answer within 0.5 s"):
        synthesize("Hello.", backend=backend)
    assert time.perf_counter() - start < 2.0
    assert len(calls) == 1  # a slow server is not asked again


def test_server_error_is_retried_then_reported(server, calls):
    backend = HttpSpeechBackend(f"{server}/fail", body="json", retries=2, backoff_s=0.01)
    with pytest.raises(SpeechServerError, match=r"HTTP 500.*model crashed.*3 tries"):
        synthesize("Hello.", backend=backend)
    assert len(calls) == 3


def test_client_error_is_not_retried(server, calls):
    backend = HttpSpeechBackend(f"{server}/bad", body="json", retries=2, backoff_s=0.01)
    with pytest.raises(SpeechServerError, match=r"refused the request: HTTP 400.*no such voice"):
        synthesize("Hello.", backend=backend)
    assert len(calls) == 1


@pytest.mark.parametrize(("path", "message"), [("/html", "text/html, not audio"),
                                               ("/noise", "not usable audio")])  # fmt: skip
def test_non_audio_answer_is_reported(server, calls, path, message):
    with pytest.raises(SpeechServerError, match=message):
        synthesize("Hello.", backend=f"get:{server}{path}")


def test_server_not_there():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAISpeechBackend(f"http://127.0.0.1:{port}", retries=1, backoff_s=0.01)
    start = time.perf_counter()
    with pytest.raises(SpeechServerError, match=r"not reachable.*2 tries.*is it running"):
        synthesize("Hello.", backend=backend)
    assert time.perf_counter() - start < 2.0
    assert isinstance(SpeechServerError("x"), HeadcastError)


def test_backend_specs():
    from headcast.speech import get_backend

    assert get_backend("builtin").name == "builtin"
    assert get_backend("http://h:8000").url == "http://h:8000/v1/audio/speech"
    assert get_backend("http://h:8000/v1/").url == "http://h:8000/v1/audio/speech"
    assert get_backend("http://h/api/tts?q={text}").name == "http"
    assert get_backend("form:http://h/api/tts").body == "form"
    with pytest.raises(InputError, match="unknown TTS backend"):
        get_backend("festival")


# ---------------------------------------------------------------- CLI (tts)


def test_cli_tts_writes_wav_and_timings(tmp_path, capsys):
    out, timings = tmp_path / "speech.wav", tmp_path / "speech.json"
    text_file = tmp_path / "text.txt"
    text_file.write_text("Good morning. Maps are fun!", encoding="utf-8")
    status = speech_main(
        ["tts", f"@{text_file}", "-o", str(out), "--voice", "en-gb", "--timings", str(timings)]
    )
    assert status == 0
    with wave.open(str(out)) as w:
        assert w.getframerate() == 22050 and w.getnchannels() == 1
        duration = w.getnframes() / w.getframerate()
    data = json.loads(timings.read_text())
    assert data["phones"][-1]["end"] == pytest.approx(duration, abs=1e-3)
    assert [w["word"] for w in data["words"]] == ["Good", "morning", "Maps", "are", "fun"]


def test_cli_tts_reads_stdin_and_lists_voices(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Hallo Welt."))
    assert speech_main(["tts", "-", "-o", str(tmp_path / "a.wav"), "--voice", "de"]) == 0
    assert speech_main(["tts", "--list-voices"]) == 0
    listed = capsys.readouterr().out
    assert "en-us" in listed and "fr-fr" in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tts", "Hi.", "--voice", "zz-top"], "unknown voice 'zz-top'"),
        (["tts", "   "], "the text is empty"),
        (["tts", "Hello there.", "--max-chars", "5"], "limit is 5"),
        (["tts", "@/nonexistent/file.txt"], "not found"),
        (["tts", "Hi.", "--tts", "http://127.0.0.1:9/"], "not reachable"),
        (["tts", "Hi.", "--rate", "1000"], "rate must be between"),
    ],
)
def test_cli_tts_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message, monkeypatch):
    monkeypatch.setenv("HEADCAST_TTS_RETRIES", "0")
    assert speech_main([*args, "-o", str(tmp_path / "a.wav")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("headcast: error: ") and message in err[-1]
    assert not (tmp_path / "a.wav").exists()
