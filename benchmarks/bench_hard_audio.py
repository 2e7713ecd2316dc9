"""Lip-sync on hard audio: the table of `bench_lipsync.py --hard`.

Each condition is made from real recordings and scored against phone times known
independently of headcast's analysis:

* the five LibriVox clips (one reader), scored against the reference alignments shipped with
  them: clean; through a telephone channel (8 kHz, 300-3400 Hz band-pass, G.711 μ-law:
  ``headcast.audio.band.telephone_channel``); under real room noise at 10 and 0 dB SNR and
  under music at 10 dB SNR (SNR measured on each mix: speech power over the power of what was
  added, clipping included); with 20 % of the transcript's words left out or replaced by words
  of other clips;
* two speakers joined: each LibriVox clip, 1 s of room tone, then one sentence of GRID speaker
  s1 (``tests/media/grid-s1.mp4``), with a transcript of both on two lines. The GRID part's
  truth is the forced alignment of its own words on its clip alone;
* synthetic voices: headcast's built-in synthesizer in three voices at two rates, its phone
  events being the truth.

Noise and music are recordings shipped in the livekit-agents wheel
(``livekit/agents/resources``: crowded-room.ogg, office-ambience.ogg, hold_music.ogg; Apache
2.0 with the package), read where that package is installed; nothing is copied here.

Scores: the share of 100 fps frames whose mouth shape (Rhubarb's A-F, G, H, X) matches the
truth's within ±1 frame, audio alone and with the transcript (``headcast.lipsync.lipsync``),
and the share of true /p b m/ phones with the jaw closed on some 25 fps frame inside them.
"""

from __future__ import annotations

import importlib.util
import math
import platform
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from headcast.audio import Audio, load_audio, resample
from headcast.audio.band import telephone_channel
from headcast.lipsync import lipsync
from headcast.motion.mouth_cues import mouth_cues, shapes_per_frame
from headcast.phones import PhoneTrack, align_phones
from headcast.phones.sphinx import build_track
from tests.conftest import CLIPS, MEDIA, clip_text, clip_wav, reference_track, tolerant_agreement

ROOT = Path(__file__).resolve().parent.parent
RATE = 16000
FPS = 100.0
VIDEO_FPS = 25.0
SEED = 24
NOISES = ("crowded-room.ogg", "office-ambience.ogg")
MUSIC = "hold_music.ogg"
MUSIC_SNR_DB = 10.0
GRID_SENTENCES = (
    "bin blue at f two now",
    "lay green in z three soon",
    "place green by e four please",
    "lay red with l seven again",
    "set white at o six please",
)
GRID_SENTENCE_S = 3.0
SPEAKER_GAP_S = 1.0
SYNTH_VOICES = ("en-us", "en-us+f3", "en-gb")
SYNTH_RATES_WPM = (140, 220)
SYNTH_SENTENCES = 6
CHANGED_SHARE = 0.2
TARGET_WITH_TEXT_CLEAN = 0.85
TARGET_AUDIO_CLEAN = 0.75
TARGET_TELEPHONE_GAP = 0.08


@dataclass(frozen=True)
class Case:
    """One clip of a condition: the audio, the transcript given, and the true phones."""

    audio: Audio
    transcript: str
    truth: PhoneTrack
    snr_db: float = math.nan


@dataclass
class Tally:
    ok: int = 0
    frames: int = 0
    closed: int = 0
    bilabials: int = 0
    seconds: float = 0.0
    failed: int = 0  # clips whose analysis raised

    def add(self, other: Tally) -> None:
        self.ok += other.ok
        self.frames += other.frames
        self.closed += other.closed
        self.bilabials += other.bilabials
        self.seconds += other.seconds

    @property
    def shapes(self) -> float:
        return self.ok / self.frames if self.frames else math.nan

    @property
    def closure(self) -> float:
        return self.closed / self.bilabials if self.bilabials else math.nan


def score(case: Case, transcript: str | None) -> Tally:
    start = time.perf_counter()
    result = lipsync(case.audio, transcript, fps=VIDEO_FPS, head_motion=False)
    seconds = time.perf_counter() - start
    n = max(round(case.audio.duration_s * FPS), 1)
    ok, frames = tolerant_agreement(
        shapes_per_frame(mouth_cues(case.truth), FPS, n), shapes_per_frame(result.cues, FPS, n)
    )
    jaw = result.motion.controls["jaw_open"]
    closed = total = 0
    for phone in case.truth.phones:
        if phone.label not in ("P", "B", "M"):
            continue
        first = math.ceil(phone.start_s * VIDEO_FPS - 1e-9)
        inside = list(range(first, min(math.ceil(phone.end_s * VIDEO_FPS - 1e-9), len(jaw))))
        if not inside:
            inside = [min(round(0.5 * (phone.start_s + phone.end_s) * VIDEO_FPS), len(jaw) - 1)]
        closed += bool(np.any(jaw[inside] == 0.0))
        total += 1
    return Tally(ok, frames, closed, total, seconds)


def resources_dir(given: Path | None) -> Path:
    """Where livekit-agents keeps its ambience and music recordings."""
    if given is not None:
        return given
    try:
        spec = importlib.util.find_spec("livekit.agents")
    except ModuleNotFoundError:
        spec = None
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))) / "resources"
    found = sorted(ROOT.glob("integrations/livekit/.venv/lib/python*/site-packages/livekit/agents"))
    if found:
        return found[0] / "resources"
    raise SystemExit(
        "no noise recordings: install livekit-agents (integrations/livekit: uv sync) "
        "or pass --noise-dir"
    )


def mix(speech: Audio, noise: np.ndarray, snr_db: float, offset: int) -> tuple[Audio, float]:
    """``speech`` with ``noise`` (looped, from ``offset``) scaled to ``snr_db``; the SNR
    measured on the mix."""
    s = speech.samples.astype(np.float64)
    n = np.resize(np.roll(noise, -offset), len(s)).astype(np.float64)
    n *= math.sqrt(np.mean(s**2) / max(np.mean(n**2), 1e-20)) * 10 ** (-snr_db / 20)
    mixed = np.clip(s + n, -1.0, 1.0).astype(np.float32)
    added = mixed.astype(np.float64) - s
    measured = 10 * math.log10(np.mean(s**2) / max(np.mean(added**2), 1e-20))
    return Audio(mixed, RATE), measured


def librivox() -> dict[str, Case]:
    cases = {}
    for clip in CLIPS:
        audio = load_audio(clip_wav(clip))
        cases[clip] = Case(audio, clip_text(clip), reference_track(clip, audio.duration_s))
    return cases


def edited(text: str, rng: np.random.Generator, pool: list[str], *, drop: bool) -> str:
    """``text`` with ``CHANGED_SHARE`` of its words left out (``drop``) or swapped for
    words of ``pool`` it does not have."""
    words = text.split()
    changed = set(rng.choice(len(words), round(CHANGED_SHARE * len(words)), replace=False))
    strangers = [w for w in pool if w not in words]
    out = []
    for index, word in enumerate(words):
        if index not in changed:
            out.append(word)
        elif not drop:
            out.append(strangers[int(rng.integers(len(strangers)))])
    return " ".join(out)


def conditions(noise_dir: Path) -> Iterator[tuple[str, list[Case]]]:
    clean = librivox()
    yield "clean", list(clean.values())
    yield (
        "telephone (8 kHz, 300-3400 Hz, μ-law)",
        [Case(telephone_channel(c.audio), c.transcript, c.truth) for c in clean.values()],
    )
    noises = [load_audio(noise_dir / name, sample_rate=RATE).samples for name in NOISES]
    rng = np.random.default_rng(SEED)
    for snr in (10.0, 0.0):
        cases = []
        for index, c in enumerate(clean.values()):
            noise = noises[index % len(noises)]
            audio, measured = mix(c.audio, noise, snr, int(rng.integers(len(noise))))
            cases.append(Case(audio, c.transcript, c.truth, measured))
        yield f"room noise, {snr:g} dB SNR", cases
    music = load_audio(noise_dir / MUSIC, sample_rate=RATE).samples
    cases = []
    for c in clean.values():
        audio, measured = mix(c.audio, music, MUSIC_SNR_DB, int(rng.integers(len(music))))
        cases.append(Case(audio, c.transcript, c.truth, measured))
    yield f"music under speech, {MUSIC_SNR_DB:g} dB SNR", cases
    yield "room noise or music alone, no speech (truth: rest)", list(without_speech(noise_dir))
    yield "two speakers joined", list(two_speakers(clean, noises[1]))
    pool = sorted({w for c in clean.values() for w in c.transcript.split()})
    for label, drop in (("20 % of words left out", True), ("20 % of words wrong", False)):
        rng = np.random.default_rng(SEED)
        yield (
            f"transcript: {label}",
            [
                Case(c.audio, edited(c.transcript, rng, pool, drop=drop), c.truth)
                for c in clean.values()
            ],
        )
    yield "synthetic voices (exact timings)", list(synthetic())


def without_speech(noise_dir: Path) -> Iterator[Case]:
    """Each recording alone, 8 s from its middle at -20 dBFS: the mouth should stay at rest."""
    for name in (*NOISES, MUSIC):
        samples = load_audio(noise_dir / name, sample_rate=RATE).samples
        middle = len(samples) // 2
        piece = samples[middle - 4 * RATE : middle + 4 * RATE].astype(np.float64)
        piece *= 10 ** (-20 / 20) / max(float(np.sqrt(np.mean(piece**2))), 1e-9)
        audio = Audio(piece.astype(np.float32), RATE)
        yield Case(audio, "", build_track([], audio.duration_s, "reference"))


def two_speakers(clean: dict[str, Case], room: np.ndarray) -> Iterator[Case]:
    grid = load_audio(MEDIA / "grid-s1.mp4", sample_rate=RATE).samples
    gap = room[: round(SPEAKER_GAP_S * RATE)]
    gap = gap * (10 ** (-40 / 20) / max(float(np.sqrt(np.mean(gap**2))), 1e-9))  # -40 dBFS
    for index, c in enumerate(clean.values()):
        first = round(index * GRID_SENTENCE_S * RATE)
        sentence = Audio(grid[first : first + round(GRID_SENTENCE_S * RATE)], RATE)
        said = GRID_SENTENCES[index]
        second = align_phones(sentence, said)
        offset = c.audio.duration_s + SPEAKER_GAP_S
        samples = np.concatenate((c.audio.samples, gap.astype(np.float32), sentence.samples))
        spans = [(p.label, p.start_s, p.end_s, 1.0) for p in c.truth.phones]
        spans += [(p.label, p.start_s + offset, p.end_s + offset, 1.0) for p in second.phones]
        duration = len(samples) / RATE
        yield Case(
            Audio(samples, RATE),
            f"{c.transcript}\n{said}",
            build_track(spans, duration, "reference"),
        )


def synthetic() -> Iterator[Case]:
    from bench_tts import SENTENCES

    from headcast.speech import synthesize

    for voice in SYNTH_VOICES:
        for rate in SYNTH_RATES_WPM:
            for text in SENTENCES["en-us"][:SYNTH_SENTENCES]:
                speech = synthesize(text, voice, rate_wpm=rate)
                samples = resample(speech.audio.samples, speech.audio.sample_rate, RATE)
                # A faint noise floor: synthetic pauses are exact zeros, which no microphone records.
                floor = np.random.default_rng(0).normal(0, 10 ** (-70 / 20), len(samples))
                audio = Audio((samples + floor).astype(np.float32), RATE)
                yield Case(audio, text, speech.phones)


def closure(tally: Tally) -> str:
    return f"{tally.closure:.0%} of {tally.bilabials}" if tally.bilabials else "–"


def failures(tally: Tally) -> str:
    return f" ({tally.failed} clips raised)" if tally.failed else ""


def hard_audio_table(noise_dir: Path | None) -> None:
    folder = resources_dir(noise_dir)
    warm = load_audio(clip_wav(CLIPS[0]))
    for transcript in (clip_text(CLIPS[0]), None):  # build the decoders first
        lipsync(warm, transcript)
        lipsync(telephone_channel(warm), transcript)
    rows = []
    for label, cases in conditions(folder):
        alone, guided = Tally(), Tally()
        for case in cases:
            alone.add(score(case, None))
            try:
                guided.add(score(case, case.transcript or None))
            except Exception as exc:  # a failure is a result to show, not a reason to stop
                print(f"  {label}: with its transcript, {type(exc).__name__}: {exc}", flush=True)
                guided.failed += 1
        seconds = sum(c.audio.duration_s for c in cases)
        snrs = [c.snr_db for c in cases if not math.isnan(c.snr_db)]
        snr = f"{np.mean(snrs):.1f}" if snrs else "–"
        rows.append((label, len(cases), seconds, snr, alone, guided))
        print(f"  {label}: {alone.shapes:.3f} / {guided.shapes:.3f}", flush=True)

    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(
        f"\n{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"commit {commit}; noise and music from {folder}\n"
    )
    print(
        "| condition | clips, s | SNR measured, dB | shapes ±1 frame @100 fps: audio alone "
        "| with transcript | bilabial closure: audio alone | with transcript | RTF alone / text |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, count, seconds, snr, alone, guided in rows:
        print(
            f"| {label} | {count}, {seconds:.1f} | {snr} | {alone.shapes:.3f} | "
            f"{guided.shapes:.3f}{failures(guided)} | {closure(alone)} | {closure(guided)} | "
            f"{alone.seconds / seconds:.3f} / {guided.seconds / seconds:.3f} |"
        )
    by_label = {row[0]: row for row in rows}
    clean_alone, clean_guided = by_label["clean"][4].shapes, by_label["clean"][5].shapes
    phone = next(row for row in rows if row[0].startswith("telephone"))
    never_below = [row[0] for row in rows if row[5].shapes < row[4].shapes - 0.0005]
    print("\nTargets:")
    print(
        f"- with transcript never below audio alone: "
        f"{'met' if not never_below else 'not met: ' + ', '.join(never_below)}"
    )
    print(
        f"- with transcript ≥ {TARGET_WITH_TEXT_CLEAN} on clean speech: {clean_guided:.3f} "
        f"({'met' if clean_guided >= TARGET_WITH_TEXT_CLEAN else 'not met'})"
    )
    print(
        f"- audio alone ≥ {TARGET_AUDIO_CLEAN} on clean human speech: {clean_alone:.3f} "
        f"({'met' if clean_alone >= TARGET_AUDIO_CLEAN else 'not met'})"
    )
    for index, name in ((4, "audio alone"), (5, "with transcript")):
        gap = by_label["clean"][index].shapes - phone[index].shapes
        print(
            f"- telephone within {TARGET_TELEPHONE_GAP} of 16 kHz, {name}: {gap:+.3f} below "
            f"({'met' if gap <= TARGET_TELEPHONE_GAP else 'not met'})"
        )
