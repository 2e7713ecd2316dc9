"""Text → talking-head video: speed and judged lip sync of ``headcast say``, in three languages.

Each sentence is spoken by the built-in voice and rendered on the astronaut photo (head
motion off) exactly as ``headcast say`` does. Measured per sentence:

- synthesis speed: seconds of speech per second of synthesis;
- RTF: wall time from text to the finished MP4 over the speech's duration (< 1 is faster
  than real time);
- time to first frame: from the text to the first video frame rendered and encoded
  (synthesis + avatar preparation + motion + first render), with the avatar cache warm;
- bilabial closure and rest in pauses, judged by dlib against the synthesizer's own phone
  timing (ARCHITECTURE.md, "How quality is measured").

Run: ``.venv/bin/python benchmarks/bench_tts.py`` (``--languages en-us,de,fr,es``).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quality import lipsync  # noqa: E402
from quality.judge import FaceJudge  # noqa: E402
from quality.video import read_video  # noqa: E402

SENTENCES = {
    "en-us": [
        "Peter picked a peck of pickled peppers.",
        "My mom made muffins, maybe, but Bob baked bread.",
        "Where did you put the blue umbrella?",
        "The museum opens at nine, and closes at five.",
        "Please bring me a bottle of sparkling water.",
        "I think it might rain before the parade begins.",
        "Remember to bring both maps to the meeting.",
        "Can you believe the price of a simple lamp?",
        "She sells sea shells by the sea shore.",
        "Big black bugs bleed blue black blood.",
        "The committee approved the budget in March.",
        "We moved to Boston in 1999, when I was seven.",
        "Imagine a world where every problem has a simple answer.",
        "Maybe tomorrow, maybe never; time will tell.",
        "Our team improved its performance by twenty percent.",
        "Paul prepared pancakes, bacon and apple pie.",
        "How many people came to the premiere?",
        "Thank you for your patience and your support.",
        "A bumblebee buzzed above the blooming bushes.",
        "The presentation begins promptly at ten past one.",
    ],
    "de": [
        "Mama backt Brot mit Butter.",
        "Peter bringt die Post am Montag.",
        "Wir probieren heute ein neues Programm.",
        "Im Sommer baden wir gern im Meer.",
        "Bitte bezahlen Sie am Automaten.",
        "Der Bäcker verkauft Brezeln und Brötchen.",
        "Mein Bruder spielt Musik in einer Band.",
        "Das Problem ist bekannt, aber nicht gelöst.",
        "Morgen beginnt die Messe in München.",
        "Ein Pfund Pflaumen, bitte, und zwei Birnen.",
    ],
    "fr": [
        "Papa a bu une bière.",
        "Maman prépare un bon pain, bien beau.",
        "Le printemps apporte des pommes et des prunes.",
        "Nous partons pour Paris mardi matin.",
        "Mon ami Pierre aime beaucoup la musique.",
        "Il faut boire beaucoup d'eau en été.",
        "Le bébé mange une banane au marché.",
        "Promets-moi de passer me voir demain.",
        "Le premier ministre a parlé hier soir.",
        "Nous mangeons parfois du poisson au beurre.",
    ],
    "es": [
        "Pablo bebe mucho vino blanco.",
        "Mi madre compra pan en el mercado.",
        "El problema empieza en primavera.",
        "Vamos a la playa por la mañana.",
        "Las mujeres bailan bajo la lluvia.",
        "Me gusta mucho la comida de mi abuela.",
        "Bienvenidos a Barcelona, amigos.",
        "Por favor, ponme un poco más de sopa.",
        "El tiempo pasa muy rápido en verano.",
        "Mañana empezamos el proyecto nuevo.",
    ],
}


def measure_sentence(text: str, voice: str, out: Path, judge: FaceJudge) -> dict:
    from headcast.animate import animate
    from headcast.speech import synthesize

    first_frame_at: list[float] = []

    def progress(done: int, total: int) -> None:
        if not first_frame_at:
            first_frame_at.append(time.perf_counter())

    start = time.perf_counter()
    speech = synthesize(text, voice)
    synth_s = time.perf_counter() - start
    animate(
        SAMPLE,
        speech.audio,
        out,
        phones=speech.phones,
        head_motion=False,
        check_reference=False,
        progress=progress,
    )
    total_s = time.perf_counter() - start
    video = read_video(out)
    measures = judge.track(video.frames)
    phones = speech.phones.phones
    n_bilabial = sum(p.label in lipsync.BILABIALS for p in phones)
    closure = lipsync.bilabial_closure(measures, phones, video.fps)
    return {
        "duration": speech.duration_s,
        "synth_s": synth_s,
        "total_s": total_s,
        "ttff_s": first_frame_at[0] - start,
        "n_bilabial": n_bilabial,
        "hits": 0 if math.isnan(closure) else round(closure * n_bilabial),
        "rest": lipsync.silence_rest(measures, phones, video.fps),
        "faces_missing": sum(m is None for m in measures),
    }


SAMPLE = ROOT / "samples" / "astronaut.png"


def synthesis_speed(languages: list[str]) -> list[tuple[str, int, float, float]]:
    """(language, characters, seconds of speech, synthesis wall time) for all sentences at once."""
    from headcast.speech import synthesize

    rows = []
    for voice in languages:
        text = " ".join(SENTENCES[voice])
        synthesize(text, voice)  # load the voice's dictionary first
        start = time.perf_counter()
        speech = synthesize(text, voice)
        rows.append((voice, len(text), speech.duration_s, time.perf_counter() - start))
    return rows


def main() -> None:
    from headcast.animate import animate
    from headcast.speech import synthesize

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--languages", default="en-us,de,fr")
    parser.add_argument("--limit", type=int, default=0, help="sentences per language (0: all)")
    args = parser.parse_args()
    languages = [lang.strip() for lang in args.languages.split(",") if lang.strip()]
    judge = FaceJudge()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HEADCAST_CACHE_DIR"] = str(Path(tmp) / "cache")
        # Cold start: first synthesis (library load) and first avatar preparation.
        cold: list[float] = []
        start = time.perf_counter()
        speech = synthesize("Hello.", "en-us")
        animate(SAMPLE, speech.audio, Path(tmp) / "cold.mp4", phones=speech.phones,
                head_motion=False, check_reference=False,
                progress=lambda d, t: cold.append(time.perf_counter() - start) if not cold else None)  # fmt: skip
        results: dict[str, list[dict]] = {}
        for voice in languages:
            sentences = SENTENCES[voice][: args.limit or None]
            results[voice] = [
                measure_sentence(text, voice, Path(tmp) / f"{voice}-{i}.mp4", judge)
                for i, text in enumerate(sentences)
            ]

    print("## Synthesis (built-in eSpeak NG voice, all sentences of a language in one text)\n")
    print("| language | characters | speech (s) | synthesis (ms) | x real time |")
    print("|---|---|---|---|---|")
    for voice, chars, speech_s, wall in synthesis_speed(languages):
        print(f"| {voice} | {chars} | {speech_s:.1f} | {wall * 1000:.1f} | {speech_s / wall:.0f} |")

    print("\n## Text → MP4 with `say` (512², 25 fps, one sentence per video, avatar cache warm)\n")
    print(
        "| language | sentences | speech (s) | RTF text→MP4 | time to first frame "
        "median / max (ms) | bilabial closure | rest in pauses | frames without face |"
    )
    print("|---|---|---|---|---|---|---|---|")
    everything: list[dict] = []
    for voice, rows in results.items():
        everything.extend(rows)
        print(_row(voice, rows))
    print(_row("**all**", everything))
    print(f"\nCold start (library load + first avatar preparation): first frame after "
          f"{cold[0] * 1000:.0f} ms.")  # fmt: skip


def _row(name: str, rows: list[dict]) -> str:
    speech_s = sum(r["duration"] for r in rows)
    rtf = sum(r["total_s"] for r in rows) / speech_s
    ttff = [r["ttff_s"] * 1000 for r in rows]
    hits, total = sum(r["hits"] for r in rows), sum(r["n_bilabial"] for r in rows)
    rests = [r["rest"] for r in rows if not math.isnan(r["rest"])]
    rest = f"{statistics.mean(rests):.0%}" if rests else "n/a"
    return (
        f"| {name} | {len(rows)} | {speech_s:.1f} | {rtf:.2f} | "
        f"{statistics.median(ttff):.0f} / {max(ttff):.0f} | {hits / max(total, 1):.1%} "
        f"({hits}/{total}) | {rest} | {sum(r['faces_missing'] for r in rows)} |"
    )


if __name__ == "__main__":
    main()
