"""Head motion, blinks and mouth light of renders against real people talking to camera.

(a) Real clips (the cache ``scripts/extract_talking_clips.py`` fills), each over its first
60 s: head roll, yaw, pitch and translation std, blinks a minute and blink depth
(``quality.realism``), per clip and as range (median). (b) Portraits (the bundled photos and
the paintings given by ``--paintings``) rendered with ``headcast.animate`` at 512², 25 fps and
default settings, each speaking different LibriVox speech (all five bundled recordings, each
portrait starting from a different one, ≥ 25 s, with the transcript): the same figures, each
one's ratio to the real clips' median, pass or fail against the targets, and the mouth light
(the render's brightest teeth against the photo's eye whites, CIE Lab b*) where
``quality.mouth_light`` is present. ``--sheets DIR`` writes a head-turn contact sheet per
portrait: one frame every 80 ms over the 2 s where the judge's yaw turns most.

Only ``headcast.animate`` is used from the library, so an older checkout can be measured the
same way: ``PYTHONPATH=/other/checkout/src .venv/bin/python benchmarks/bench_realism.py``;
photos are analysed afresh each run (an empty ``HEADCAST_CACHE_DIR``).

Run: `.venv/bin/python benchmarks/bench_realism.py [--quick] [--paintings PNG ...]
[--sheets DIR] [--renders DIR] [--json PATH]`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quality.contact_sheet import (  # noqa: E402
    FACE_CROP_EYE_DISTANCES,
    SheetRow,
    compose_sheet,
    face_tile,
    write_sheet,
)
from quality.judge import FaceJudge, FaceMeasure  # noqa: E402
from quality.realism import FIGURES, Realism, markdown_table, measure_video, realism  # noqa: E402
from quality.reenactment import head_pose  # noqa: E402
from scripts.extract_talking_clips import CLIPS as TALKING_CLIPS  # noqa: E402
from scripts.extract_talking_clips import cache_dir  # noqa: E402
from tests.conftest import CLIPS as SPEECH_CLIPS  # noqa: E402
from tests.conftest import MEDIA, SAMPLES, clip_text, clip_wav  # noqa: E402

PHOTOS = (SAMPLES / "astronaut.png", MEDIA / "obama.jpg", MEDIA / "biden.jpg")
# From github.com/OpenTalker/SadTalker, examples/source_image/ (never committed here).
PAINTINGS = (Path("/tmp/paint/art_11.png"), Path("/tmp/paint/art_13.png"))

REAL_MAX_S = 60.0
SPEECH_MIN_S = 25.0
QUICK_SPEECH_MIN_S = 10.0
QUICK_REAL_CLIPS = 3
SPEECH_GAP_S = 0.4  # silence between two recordings: a pause between phrases
SPEECH_RATE_HZ = 16_000
FPS = 25
SIZE_PX = 512

# Targets at the default setting.
MOTION_FIGURES = ("roll_std_deg", "yaw_std", "pitch_std", "translation_std")
MOTION_RATIO_RANGE = (0.5, 2.0)  # of the real clips' median
DEEPEST_BLINK_MAX = 0.4
BLINKS_PER_MINUTE_RANGE = (10.0, 25.0)
TEETH_B_GAP_MIN = -10.0  # teeth b* minus eye-white b*

TURN_WINDOW_S = 2.0
TURN_STEP_S = 0.08
TURN_TILES_PER_ROW = 5
TURN_TILE_PX = 240
# The sheet's cut, in eye distances: wider than a face tile's, so that hair, ears, neck and
# the background beside the head show how they follow the turn.
TURN_CROP_EYE_DISTANCES = 4.5


@dataclass(frozen=True)
class Speech:
    """Recordings joined into one WAV, with their joined transcript."""

    clips: tuple[str, ...]
    wav: Path
    text: str
    seconds: float


# -- real clips ------------------------------------------------------------------------------


def measure_real_clips(judge: FaceJudge, limit: int | None) -> list[tuple[str, Realism]]:
    rows = []
    for clip in TALKING_CLIPS[:limit]:
        path = cache_dir() / f"{clip.name}{Path(clip.path).suffix}"
        if not path.exists():
            print(
                f"skipped {clip.name}: not in {cache_dir()} "
                f"(scripts/extract_talking_clips.py with a copy of {clip.repo})",
                file=sys.stderr,
            )
            continue
        started = time.perf_counter()
        measured = measure_video(path, judge, max_seconds=REAL_MAX_S)
        rows.append((clip.name, realism(measured.measures, measured.fps)))
        print(f"measured {clip.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    return rows


def summary(rows: list[tuple[str, Realism]]) -> dict[str, dict[str, float]]:
    """Per figure: min, median and max over the rows (NaNs left out)."""
    out = {}
    for name, _, _ in FIGURES:
        values = np.array([getattr(r, name) for _, r in rows], dtype=np.float64)
        values = values[np.isfinite(values)]
        out[name] = (
            {
                "min": float(values.min()),
                "median": float(np.median(values)),
                "max": float(values.max()),
            }
            if len(values)
            else {"min": math.nan, "median": math.nan, "max": math.nan}
        )
    return out


# -- renders ---------------------------------------------------------------------------------


def speech_for(index: int, into: Path, min_s: float) -> Speech:
    """Recordings in turn from the ``index``-th on (so each portrait says something else first),
    ``SPEECH_GAP_S`` apart, until they last ``min_s``."""
    parts: list[np.ndarray] = []
    names: list[str] = []
    seconds = 0.0
    order = SPEECH_CLIPS[index % len(SPEECH_CLIPS) :] + SPEECH_CLIPS[: index % len(SPEECH_CLIPS)]
    while seconds < min_s:
        clip = order[len(names) % len(order)]
        if parts:
            parts.append(np.zeros(round(SPEECH_GAP_S * SPEECH_RATE_HZ), np.int16))
        parts.append(_read_pcm16(clip_wav(clip)))
        names.append(clip)
        seconds = sum(len(p) for p in parts) / SPEECH_RATE_HZ
    wav = into / f"speech-{'-'.join(names)}.wav"
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SPEECH_RATE_HZ)
        out.writeframes(np.concatenate(parts).tobytes())
    return Speech(tuple(names), wav, " ".join(clip_text(c) for c in names), seconds)


def _read_pcm16(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as source:
        if (source.getframerate(), source.getnchannels(), source.getsampwidth()) != (
            SPEECH_RATE_HZ,
            1,
            2,
        ):
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit PCM")
        return np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)


def render(portrait: Path, speech: Speech, output: Path) -> float:
    """Render with the library's defaults at 512², 25 fps; the wall-clock seconds it took."""
    from headcast.animate import animate

    accepted = inspect.signature(animate).parameters
    options: dict[str, Any] = {"fps": FPS, "size": SIZE_PX, "text": speech.text}
    started = time.perf_counter()
    animate(portrait, speech.wav, output, **{k: v for k, v in options.items() if k in accepted})
    return time.perf_counter() - started


def ratios(figures: Realism, real: dict[str, dict[str, float]]) -> dict[str, float]:
    """Each motion and blink figure over the real clips' median."""
    out = {}
    for name, _, _ in FIGURES:
        median = real[name]["median"]
        out[name] = getattr(figures, name) / median if median > 0 else math.nan
    return out


def verdicts(figures: Realism, ratio: dict[str, float], b_gap: float | None) -> dict[str, bool]:
    """Pass (True) or fail of each target; the mouth light's only where it was measured."""
    low, high = MOTION_RATIO_RANGE
    out = {name: bool(low <= ratio[name] <= high) for name in MOTION_FIGURES}
    out["deepest_blink"] = bool(figures.deepest_blink <= DEEPEST_BLINK_MAX)
    low, high = BLINKS_PER_MINUTE_RANGE
    out["blinks_per_minute"] = bool(low <= figures.blinks_per_minute <= high)
    if b_gap is not None:
        out["teeth_b_gap"] = bool(b_gap >= TEETH_B_GAP_MIN)
    return out


def mouth_light_of(
    portrait: Path, frames: list[np.ndarray], measures: list[FaceMeasure | None]
) -> dict[str, Any] | None:
    try:
        from quality.mouth_light import mouth_light
    except ImportError as error:
        print(f"no mouth light figures: {error}", file=sys.stderr)
        return None
    light = mouth_light(_read_rgb(portrait), frames, measures)
    return {
        "teeth_lab": light.teeth_lab,
        "sclera_lab": light.sclera_lab,
        "b_gap": light.b_gap,
    }


def _read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


# -- head-turn sheets ------------------------------------------------------------------------


def turn_start(measures: list[FaceMeasure | None], fps: float, window_s: float) -> int:
    """First frame of the ``window_s`` stretch over which the judge's yaw spans most."""
    yaw = np.array([head_pose(m.landmarks).yaw if m else np.nan for m in measures])
    span = round(window_s * fps)
    if len(yaw) <= span:
        return 0
    spans = [
        np.nanmax(w) - np.nanmin(w) if np.isfinite(w).any() else -1.0
        for w in (yaw[i : i + span] for i in range(len(yaw) - span))
    ]
    return int(np.argmax(spans))


def turn_sheet(
    name: str, frames: list[np.ndarray], measures: list[FaceMeasure | None], fps: float
) -> np.ndarray:
    """One frame every ``TURN_STEP_S`` over the stretch where the head turns most, each cut
    out at the same place (the middle frame's face) so the turn and the travel both show."""
    start = turn_start(measures, fps, TURN_WINDOW_S)
    step = max(round(TURN_STEP_S * fps), 1)
    picked = list(range(start, min(start + round(TURN_WINDOW_S * fps), len(frames)), step))
    middle = measures[picked[len(picked) // 2]] or next((m for m in measures if m), None)
    if middle is not None:
        widen = TURN_CROP_EYE_DISTANCES / FACE_CROP_EYE_DISTANCES
        middle = replace(middle, inter_ocular=middle.inter_ocular * widen)
    yaws = [head_pose(measures[i].landmarks).yaw for i in picked if measures[i]]
    rows = []
    for r in range(0, len(picked), TURN_TILES_PER_ROW):
        chunk = picked[r : r + TURN_TILES_PER_ROW]
        rows.append(
            SheetRow(
                f"{chunk[0] / fps:.2f} s",
                [face_tile(frames[i], middle, TURN_TILE_PX) for i in chunk],
            )
        )
    columns = [f"+{round(c * step / fps * 1000)} ms" for c in range(TURN_TILES_PER_ROW)]
    title = (
        f"{name}: head turn {start / fps:.2f}-{(start + len(picked) * step) / fps:.2f} s, "
        f"yaw {min(yaws):+.3f} to {max(yaws):+.3f} eye distances, a frame every "
        f"{round(step / fps * 1000)} ms"
        if yaws
        else name
    )
    return compose_sheet(rows, columns, title, TURN_TILE_PX)


# -- the run ---------------------------------------------------------------------------------


def headcast_source() -> dict[str, str]:
    """Where the measured library came from: its folder and, in a git checkout, the commit."""
    import headcast

    folder = Path(headcast.__file__).resolve().parent
    commit = subprocess.run(
        ["git", "-C", str(folder), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return {"path": str(folder), "commit": commit}


def portraits_of(args: argparse.Namespace) -> list[Path]:
    paintings = []
    for path in args.paintings:
        if path.exists():
            paintings.append(path)
        else:
            print(f"skipped painting {path}: not there", file=sys.stderr)
    if args.quick:  # one photo and one painting (or a second photo)
        return [PHOTOS[0], *(paintings[:1] or PHOTOS[1:2])]
    return [*PHOTOS, *paintings]


def render_table(rows: list[dict[str, Any]]) -> str:
    head = ["portrait", "s", *(heading for _, heading, _ in FIGURES[:6]), "teeth − whites b*"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        figures, ratio, passed = row["figures"], row["ratio"], row["pass"]
        cells = [row["portrait"], f"{figures['seconds']:.1f}"]
        for name, _, fmt in FIGURES[:6]:
            value = figures[name]
            cell = "–" if not math.isfinite(value) else fmt.format(value)
            if name in MOTION_FIGURES and math.isfinite(ratio[name]):
                cell += f" ({ratio[name]:.2f}×)"
            if name in passed:
                cell += " ✓" if passed[name] else " ✗"
            cells.append(cell)
        light = row.get("mouth_light")
        gap = None if light is None else light["b_gap"]
        if gap is None:
            cells.append("–")
        else:
            cells.append(f"{gap:+.1f}" + (" ✓" if passed["teeth_b_gap"] else " ✗"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def real_summary_row(real: dict[str, dict[str, float]]) -> str:
    cells = ["**range (median)**"]
    for name, _, fmt in FIGURES:
        s = real[name]
        cells.append(
            f"{fmt.format(s['min'])}–{fmt.format(s['max'])} ({fmt.format(s['median'])})"
            if math.isfinite(s["median"])
            else "–"
        )
    return "| " + " | ".join(cells) + " | | | |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 portraits, 10 s, 3 real clips")
    parser.add_argument("--paintings", nargs="*", type=Path, default=list(PAINTINGS))
    parser.add_argument("--sheets", type=Path, default=None, help="write head-turn sheets here")
    parser.add_argument("--renders", type=Path, default=None, help="keep the renders here")
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    args = parser.parse_args()

    source = headcast_source()
    label = source["commit"] or source["path"]
    print(f"headcast from {source['path']} at {source['commit'] or '?'}", file=sys.stderr)
    judge = FaceJudge()
    real_rows = measure_real_clips(judge, QUICK_REAL_CLIPS if args.quick else None)
    if not real_rows:
        print("no real clips: nothing to compare with", file=sys.stderr)
        return 1
    real = summary(real_rows)
    min_s = QUICK_SPEECH_MIN_S if args.quick else SPEECH_MIN_S

    renders: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-realism-") as scratch:
        # Each photo analysed afresh by the headcast being measured, never read from a cache
        # another checkout wrote.
        os.environ["HEADCAST_CACHE_DIR"] = str(Path(scratch) / "cache")
        work = args.renders or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        for index, portrait in enumerate(portraits_of(args)):
            speech = speech_for(index, Path(scratch), min_s)
            output = work / f"{portrait.stem}.mp4"
            render_s = render(portrait, speech, output)
            measured = measure_video(output, judge, keep_frames=True)
            assert measured.frames is not None
            figures = realism(measured.measures, measured.fps)
            light = mouth_light_of(portrait, measured.frames, measured.measures)
            ratio = ratios(figures, real)
            row = {
                "portrait": portrait.stem,
                "path": str(portrait),
                "speech": list(speech.clips),
                "speech_s": speech.seconds,
                "render_s": render_s,
                "figures": asdict(figures),
                "ratio": ratio,
                "mouth_light": light,
                "pass": verdicts(figures, ratio, None if light is None else light["b_gap"]),
            }
            renders.append(row)
            print(
                f"{portrait.stem}: {speech.seconds:.1f} s of speech rendered in {render_s:.0f} s; "
                f"passes {sum(row['pass'].values())}/{len(row['pass'])}",
                file=sys.stderr,
            )
            if args.sheets is not None:
                sheet = turn_sheet(portrait.stem, measured.frames, measured.measures, measured.fps)
                print(f"wrote {write_sheet(args.sheets / f'turn-{portrait.stem}.png', sheet)}")

    print(f"\nReal clips (first {REAL_MAX_S:.0f} s of each):\n")
    print(markdown_table(real_rows))
    print(real_summary_row(real))
    print(
        f"\nRenders (512², {FPS} fps, default settings; headcast {label}); "
        "motion figures with their ratio to the real median; targets: motion 0.5–2×, "
        f"deepest blink ≤ {DEEPEST_BLINK_MAX}, {BLINKS_PER_MINUTE_RANGE[0]:.0f}–"
        f"{BLINKS_PER_MINUTE_RANGE[1]:.0f} blinks a minute, teeth b* ≥ eye whites' "
        f"{TEETH_B_GAP_MIN:+.0f}:\n"
    )
    print(render_table(renders))
    if args.json is not None:
        record = {
            "headcast": source,
            "quick": args.quick,
            "real": [{"clip": name, **asdict(r)} for name, r in real_rows],
            "real_summary": real,
            "renders": renders,
            "targets": {
                "motion_ratio": MOTION_RATIO_RANGE,
                "deepest_blink_max": DEEPEST_BLINK_MAX,
                "blinks_per_minute": BLINKS_PER_MINUTE_RANGE,
                "teeth_b_gap_min": TEETH_B_GAP_MIN,
            },
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(record, indent=2, default=_json_value) + "\n")
    return 0


def _json_value(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


if __name__ == "__main__":
    sys.exit(main())
