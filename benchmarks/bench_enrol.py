"""Self-reenactment on held-out footage: an enrolled avatar and the photo engine side by side.

For each real clip with audio (from the cache ``scripts/extract_talking_clips.py`` fills): its
own A/V offset is measured (dlib mouth aperture against the speech envelope) and undone; the
first 60 % is enrolled (``enrol_video``) and one closed-mouth frontal frame of it is the photo;
the audio of the last 40 % is rendered at 512² 25 fps by the enrolled avatar and by the photo
engine, and both renders are judged by dlib against the real last 40 %, frame by frame: mouth
likeness, identity, head motion, blinks, mouth-opening correlation, the lip-sync gates (phones
recognized from the held-out audio; again on bundled LibriVox speech with its reference
phones), speed and memory. A contact sheet per clip goes to ``--sheets`` (outside the
repository: the clips' footage may not be committed).

Run: `.venv/bin/python benchmarks/bench_enrol.py [--clips NAME ...] [--quick] [--sheets DIR]
[--json PATH]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import tempfile
import time
import wave
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from quality import lipsync  # noqa: E402
from quality.contact_sheet import SheetRow, compose_sheet, write_sheet  # noqa: E402
from quality.held_out import write_enrol_part, write_held_out_audio  # noqa: E402
from quality.judge import FaceJudge  # noqa: E402
from quality.judged_video import (  # noqa: E402
    JudgedClip,
    JudgedVideo,
    add_tiles,
    judge_clip,
    judge_video,
)
from quality.mouth_likeness import mouth_likeness, own_nearest_distances  # noqa: E402
from quality.reenactment import (  # noqa: E402
    aperture_correlation,
    blinks,
    head_motion,
    identity_spread,
    largest_jumps,
)
from scripts.extract_talking_clips import CLIPS as TALKING_CLIPS  # noqa: E402
from scripts.extract_talking_clips import cache_dir  # noqa: E402
from tests.conftest import CLIPS as LIBRIVOX_CLIPS  # noqa: E402
from tests.conftest import JOIN_GAP_S, clip_text, clip_wav, reference_phones  # noqa: E402

DEFAULT_CLIPS = ("dfrf-cnn2", "edtalk-pose2", "dfrf-french")
QUICK_CLIP, QUICK_MAX_S, QUICK_LIBRIVOX = "edtalk-pose2", 30.0, ("0870",)
RENDER_FPS, RENDER_SIZE_PX = 25.0, 512
SHEET_MOMENTS = 8
JOIN_STRIP_JOINS = 4
STRIP_OFFSETS = (-3, -2, -1, 0, 1, 2, 3)  # frames shown around each join
ENGINES = ("enrolled", "photo")


# -- rendering and enrolment, each in a fresh process (time and peak memory of its own) -------


def _render_child(image: str, audio: str, out: str, engine: str | None, text: str | None) -> dict:
    import resource

    from headcast.animate import animate

    options: dict[str, Any] = {} if engine is None else {"engine": engine}
    started = time.perf_counter()
    result = animate(
        image, audio, out, text=text, fps=RENDER_FPS, size=RENDER_SIZE_PX,
        check_reference=False, **options,
    )  # fmt: skip
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "frames": result.n_frames,
        "audio_s": result.audio_duration_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _enrol_child(video: str, output: str) -> dict:
    import resource

    from headcast.enrol import enrol_video

    started = time.perf_counter()
    result = enrol_video(video, output)
    return {
        "seconds": time.perf_counter() - started,
        "path": str(result.path),
        "report": result.report.as_dict(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def in_fresh_process(function: Any, *args: Any) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def enrolled_engine_missing() -> str | None:
    """Why the enrolled avatar cannot be benchmarked here, or None when it can."""
    if importlib.util.find_spec("headcast.enrol") is None:
        return "headcast.enrol is not in this checkout"
    return None


def enrolled_base_joins(avatar: Path, audio: Path) -> list[int] | None:
    """Render frames at which the enrolled base crosses a join between its stretches, in a
    render of ``audio`` (the same motion animate() makes of it), where the enrolled engine
    says so; None where it does not (the sheet then has no strip across joins)."""
    try:
        from headcast.render import enrolled
    except ImportError:
        return None
    base_joins = getattr(enrolled, "base_joins", None)
    if base_joins is None:
        return None
    from headcast.audio.decode import load_audio
    from headcast.enrol.portrait import prepare_portrait
    from headcast.motion.build import MotionOptions, clip_motion, collect_motion

    motions, _ = collect_motion(clip_motion(load_audio(audio), MotionOptions(RENDER_FPS)))
    return [int(j) for j in base_joins(prepare_portrait(avatar, RENDER_SIZE_PX), motions)]


# -- figures -----------------------------------------------------------------------------------


def lip_sync_gates(
    readings: JudgedVideo, phones: list, audio: np.ndarray | None
) -> dict[str, float]:
    """The renderer's gates: closure on /p b m/, rest in silence, openness correlation, A/V
    offset (frames, of the video's own audio)."""
    apertures = lipsync.apertures_of(readings.measures)
    expected = lipsync.expected_openness(phones, RENDER_FPS, len(apertures))
    gates = {
        "closure": lipsync.bilabial_closure(readings.measures, phones, RENDER_FPS),
        "rest": lipsync.silence_rest(readings.measures, phones, RENDER_FPS),
        "openness_r": lipsync.openness_correlation(apertures, expected),
        "av_offset": math.nan,
    }
    if audio is not None and len(audio):
        gates["av_offset"] = float(lipsync.av_offset_frames(apertures, audio, RENDER_FPS))
    return gates


def compare(render: JudgedVideo, real: JudgedVideo) -> dict[str, float]:
    """A render against the real held-out frames, frame by frame."""
    n = min(len(render.measures), len(real.measures))
    times = np.arange(len(real.measures)) / RENDER_FPS
    likeness = mouth_likeness(render.mouths[:n], real.mouths, times)
    centre = np.mean(real.embeddings, axis=0)
    motion = head_motion(render.measures[:n]).ratios(head_motion(real.measures[:n]))
    own, theirs = blinks(render.measures[:n], RENDER_FPS), blinks(real.measures[:n], RENDER_FPS)
    identity = identity_spread(render.embeddings, centre)
    return {
        "mouth_median": likeness.render_median,
        "mouth_ratio": likeness.ratio,
        "identity": identity,
        "identity_delta": identity - identity_spread(real.embeddings, centre),
        **{f"{name}_ratio": value for name, value in motion.items()},
        "blinks_per_min": own.per_minute,
        "blink_rate_ratio": _ratio(own.per_minute, theirs.per_minute),
        "blink_depth_ratio": _ratio(own.depth, theirs.depth),
        "aperture_r": aperture_correlation(render.measures[:n], real.measures[:n]),
        "faces_missing": sum(m is None for m in render.measures),
    }


def real_figures(real: JudgedVideo) -> dict[str, float]:
    times = np.arange(len(real.measures)) / RENDER_FPS
    own_mouths = own_nearest_distances(real.mouths, times)
    centre = np.mean(real.embeddings, axis=0)
    motion = head_motion(real.measures)
    own = blinks(real.measures, RENDER_FPS)
    return {
        "mouth_median": float(np.nanmedian(own_mouths)),
        "identity": identity_spread(real.embeddings, centre),
        "roll_deg_std": motion.roll_deg,
        "yaw_std": motion.yaw,
        "pitch_std": motion.pitch,
        "translation_std": motion.translation,
        "scale_std": motion.scale,
        "blinks_per_min": own.per_minute,
        "blink_depth": own.depth,
        "faces_missing": sum(m is None for m in real.measures),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.nan


# -- one clip ----------------------------------------------------------------------------------


def librivox_speech(clips: tuple[str, ...], path: Path) -> tuple[str, list]:
    """The recordings joined ``JOIN_GAP_S`` apart into a WAV at ``path``: their text and
    reference phones on the joined timeline."""
    from headcast.audio import load_audio

    parts: list[np.ndarray] = []
    phones: list[lipsync.PhoneSpan] = []
    texts: list[str] = []
    at = 0.0
    for clip in clips:
        if parts:
            parts.append(np.zeros(round(JOIN_GAP_S * 16_000), np.float32))
            phones.append(lipsync.PhoneSpan("SIL", at, at + JOIN_GAP_S))
            at += JOIN_GAP_S
        samples = load_audio(clip_wav(clip), sample_rate=16_000).samples
        parts.append(samples)
        phones += [
            lipsync.PhoneSpan(p.label, p.start_s + at, p.end_s + at) for p in reference_phones(clip)
        ]
        texts.append(clip_text(clip))
        at += len(samples) / 16_000
    pcm = np.clip(np.rint(np.concatenate(parts) * 32767), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(pcm.tobytes())
    return " ".join(texts), phones


def clip_path(name: str) -> Path | None:
    clip = next((c for c in TALKING_CLIPS if c.name == name), None)
    if clip is None:
        raise SystemExit(
            f"no talking clip named {name!r} (known: {', '.join(c.name for c in TALKING_CLIPS)})"
        )
    path = cache_dir() / f"{clip.name}{Path(clip.path).suffix}"
    if not path.exists():
        print(
            f"skipped {name}: not in {cache_dir()}; run scripts/extract_talking_clips.py with a "
            f"local copy of {clip.repo}",
            file=sys.stderr,
        )
        return None
    return path


def bench_engine(
    judge: FaceJudge,
    engine: str,
    row: dict[str, Any],
    work: Path,
    real: JudgedClip,
    phones: list,
    moments: list[int],
    librivox: tuple[str, list],
) -> tuple[JudgedVideo, list[SheetRow]]:
    """Enrol (the enrolled avatar), render the held-out audio and the LibriVox speech, judge
    both; the figures go into ``row``. Returns the render as judged, and the rows of a strip
    across the enrolled base's joins."""
    split = real.split
    if engine == "enrolled":
        enrolled = in_fresh_process(_enrol_child, str(work / "enrol.mp4"), str(work / "avatar"))
        avatar = Path(enrolled["path"])
        size_mb = sum(f.stat().st_size for f in avatar.rglob("*") if f.is_file()) / 1e6
        row.update(
            enrol_s_per_clip_s=enrolled["seconds"] / split.enrol_s,
            enrol_peak_rss_mb=enrolled["peak_rss_mb"],
            avatar_mb_per_min=size_mb / (split.enrol_s / 60.0),
            usable_s=enrolled["report"].get("usable_s"),
            shapes_missing=enrolled["report"].get("shapes_missing"),
        )
        image, engine_name = str(avatar), None
    else:
        image, engine_name = str(work / "photo.png"), "warp"
    out = work / f"{engine}.mp4"
    rendered = in_fresh_process(
        _render_child, image, str(work / "held_out.wav"), str(out), engine_name, None
    )
    readings = judge_video(judge, out, set(moments))
    strip: list[SheetRow] = []
    if engine == "enrolled":
        # The base's own joins where the engine tells them, else the render's largest jumps.
        joins = enrolled_base_joins(Path(image), work / "held_out.wav")
        label = "join"
        if joins is None:
            joins, label = largest_jumps(readings.measures, RENDER_FPS, JOIN_STRIP_JOINS), "jump"
        joins = joins[:JOIN_STRIP_JOINS]
        add_tiles(out, readings, {j + d for j in joins for d in STRIP_OFFSETS})
        strip = [
            SheetRow(
                f"{label} at {j / RENDER_FPS:.2f} s",
                [readings.tiles.get(j + d) for d in STRIP_OFFSETS],
            )
            for j in joins
        ]
    row.update(compare(readings, real.held_out))
    row.update(lip_sync_gates(readings, phones, readings.audio))
    row.update(
        render_fps=rendered["frames"] / rendered["wall_s"],
        real_time_x=rendered["audio_s"] / rendered["wall_s"],
        render_peak_rss_mb=rendered["peak_rss_mb"],
    )
    # The same avatar on speech whose phones are known.
    text, known = librivox
    lv_out = work / f"{engine}-librivox.mp4"
    in_fresh_process(
        _render_child, image, str(work.parent / "librivox.wav"), str(lv_out), engine_name, text
    )
    lv = judge_video(judge, lv_out, set())
    row.update({f"librivox_{k}": v for k, v in lip_sync_gates(lv, known, lv.audio).items()})
    return readings, strip


def bench_clip(
    judge: FaceJudge,
    name: str,
    path: Path,
    work: Path,
    args: argparse.Namespace,
    librivox: tuple[str, list],
) -> list[dict]:
    from headcast.audio import Audio, load_audio
    from headcast.phones import phones_from_audio

    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    real = judge_clip(judge, path, RENDER_FPS, max_s=args.max_s, moments=SHEET_MOMENTS)
    moments = real.moments
    split = real.split
    print(
        f"{name}: A/V offset {split.offset_frames / split.fps * 1000:+.0f} ms undone "
        f"(residual {real.residual_offset_frames} frames); enrol {split.enrol_s:.1f} s, "
        f"held out {split.held_out_s:.1f} s; photo = clip frame {real.photo_index} "
        f"[read in {time.perf_counter() - t0:.0f} s]",
        file=sys.stderr,
    )
    write_enrol_part(path, split, work / "enrol.mp4")
    held_audio = write_held_out_audio(path, split, work / "held_out.wav")
    write_sheet(work / "photo.png", real.photo_frame)
    phones = list(
        phones_from_audio(Audio(load_audio(held_audio, sample_rate=16_000).samples, 16_000)).phones
    )

    rows: list[dict] = [
        {
            "clip": name, "video": "real", "clip_av_offset_ms": split.offset_frames / split.fps * 1000,
            "residual_av_offset_frames": real.residual_offset_frames, "held_out_s": split.held_out_s,
            **real_figures(real.held_out), **lip_sync_gates(real.held_out, phones, None),
        }
    ]  # fmt: skip
    sheet_rows = [SheetRow("real", [real.held_out.tiles.get(i) for i in moments])]
    mouth_rows = [SheetRow("real mouth", [real.held_out.mouth_tiles.get(i) for i in moments])]
    join_strip: list[SheetRow] = []
    missing = enrolled_engine_missing()
    for engine in ENGINES:
        row: dict[str, Any] = {"clip": name, "video": engine}
        rows.append(row)
        try:
            if engine == "enrolled" and missing is not None:
                raise LookupError(missing)
            readings, strip = bench_engine(
                judge, engine, row, work, real, phones, moments, librivox
            )
        except Exception as exc:
            if engine != "enrolled":
                raise
            # The enrolled avatar's refusal or failure is a figure of its own, not the end.
            row["missing"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            print(f"{name}: enrolled avatar missing: {row['missing']}", file=sys.stderr)
            sheet_rows.append(SheetRow("enrolled\n(missing)", []))
            continue
        sheet_rows.append(SheetRow(engine, [readings.tiles.get(i) for i in moments]))
        mouth_rows.append(
            SheetRow(f"{engine} mouth", [readings.mouth_tiles.get(i) for i in moments])
        )
        join_strip += strip

    sheet = compose_sheet(
        sheet_rows + mouth_rows,
        [f"{i / RENDER_FPS:.1f} s" for i in moments],
        title=f"{name}: held-out part (real) and its audio rendered, same moments",
    )
    written = [write_sheet(args.sheets / f"{name}.png", sheet)]
    if join_strip:
        joins_sheet = compose_sheet(
            join_strip,
            [f"{d:+d} frames" for d in STRIP_OFFSETS],
            title=f"{name}: the enrolled render across base-loop joins (or its largest jumps)",
        )
        written.append(write_sheet(args.sheets / f"{name}-joins.png", joins_sheet))
    print(
        f"{name}: sheets {', '.join(map(str, written))} [{time.perf_counter() - t0:.0f} s]",
        file=sys.stderr,
    )
    return rows


# -- the table ---------------------------------------------------------------------------------

COLUMNS = (
    "clip", "video", "mouth ×real (median)", "identity Δ (spread)", "head motion × roll/yaw/pitch/transl",
    "blinks/min (×)", "blink depth ×", "aperture r vs real", "closure /p b m/", "rest in silence",
    "openness r", "A/V (frames)", "LibriVox closure/rest/r/A/V", "render fps (× real time)",
    "render peak RSS MB", "enrol s / clip s", "avatar MB/min",
)  # fmt: skip


def _f(value: Any, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, spec)


def table_row(row: dict) -> list[str]:
    if row["video"] == "real":
        return [
            row["clip"],
            f"real ({row['held_out_s']:.0f} s held out, A/V {row['clip_av_offset_ms']:+.0f} ms undone)",
            f"({_f(row['mouth_median'], '.3f')})",
            f"({_f(row['identity'], '.3f')})",
            f"({_f(row['roll_deg_std'], '.1f')}°/{_f(row['yaw_std'], '.3f')}/{_f(row['pitch_std'], '.3f')}"
            f"/{_f(row['translation_std'], '.3f')})",
            _f(row["blinks_per_min"], ".0f"),
            f"({_f(row['blink_depth'])})",
            "1",
            _f(row["closure"], ".0%"),
            _f(row["rest"], ".0%"),
            _f(row["openness_r"]),
            "–", "–", "–", "–", "–", "–",
        ]  # fmt: skip
    if "missing" in row:
        return [row["clip"], row["video"], f"missing: {row['missing']}"] + ["–"] * (
            len(COLUMNS) - 3
        )
    head = "/".join(_f(row[f"{k}_ratio"]) for k in ("roll_deg", "yaw", "pitch", "translation"))
    librivox = "/".join(
        [_f(row["librivox_closure"], ".0%"), _f(row["librivox_rest"], ".0%"),
         _f(row["librivox_openness_r"]), _f(row["librivox_av_offset"], "+.0f")]
    )  # fmt: skip
    return [
        row["clip"],
        row["video"],
        f"{_f(row['mouth_ratio'])} ({_f(row['mouth_median'], '.3f')})",
        f"{_f(row['identity_delta'], '+.3f')} ({_f(row['identity'], '.3f')})",
        head,
        f"{_f(row['blinks_per_min'], '.0f')} ({_f(row['blink_rate_ratio'])})",
        _f(row["blink_depth_ratio"]),
        _f(row["aperture_r"]),
        _f(row["closure"], ".0%"),
        _f(row["rest"], ".0%"),
        _f(row["openness_r"]),
        _f(row["av_offset"], "+.0f"),
        librivox,
        f"{_f(row['render_fps'], '.1f')} ({_f(row['real_time_x'], '.2f')}×)",
        _f(row["render_peak_rss_mb"], ".0f"),
        _f(row.get("enrol_s_per_clip_s")),
        _f(row.get("avatar_mb_per_min"), ".1f"),
    ]


# What the issue asks of the enrolled avatar, column by column (a render's figures are over
# the real part's, or differences from it, where the real row shows its own in brackets).
TARGETS = (
    "target", "enrolled", "≤ 1.3", "≤ +0.05", "0.5–2 each", "0.5–2×", "0.5–2", "≥ photo's",
    "≥ 90%", "≥ 95%", "≥ 0.6", "0 ± 1", "≥ 90%/≥ 95%/≥ 0.6/0 ± 1", "≥ 5× real time",
    "(avatar ≤ 300)", "≤ 2", "≤ 50",
)  # fmt: skip


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines.append("| " + " | ".join(TARGETS) + " |")
    lines += ["| " + " | ".join(table_row(row)) + " |" for row in rows]
    return "\n".join(lines)


def _plain(row: dict) -> dict:
    """A row as strict JSON: numbers as floats, NaN (not measured) as null."""

    def value(v: Any) -> Any:
        if isinstance(v, bool | str | None | int) and not isinstance(v, np.integer):
            return v
        if isinstance(v, float | np.floating | np.integer):
            return None if math.isnan(float(v)) else float(v)
        if isinstance(v, list | tuple):
            return [value(x) for x in v]
        return v

    return {key: value(v) for key, v in row.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--clips", nargs="+", default=None, help=f"default: {' '.join(DEFAULT_CLIPS)}"
    )
    parser.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_CLIP} only, its first {QUICK_MAX_S:.0f} s, LibriVox {' '.join(QUICK_LIBRIVOX)} only",
    )  # fmt: skip
    parser.add_argument(
        "--videos", nargs="+", type=Path, default=[], help="other clips (files) to benchmark too"
    )
    parser.add_argument("--max-s", type=float, default=None, help="use only each clip's start")
    parser.add_argument("--librivox", nargs="+", default=None, choices=LIBRIVOX_CLIPS)
    parser.add_argument(
        "--sheets", type=Path, default=Path(tempfile.gettempdir()) / "headcast-enrol-sheets"
    )
    parser.add_argument("--json", type=Path, default=None, help="write every figure here")
    parser.add_argument("--work", type=Path, default=None, help="keep the parts and renders here")
    args = parser.parse_args()
    if args.quick:
        args.clips = args.clips or [QUICK_CLIP]
        args.max_s = args.max_s or QUICK_MAX_S
        args.librivox = args.librivox or list(QUICK_LIBRIVOX)
    clips = args.clips or ([] if args.videos else list(DEFAULT_CLIPS))
    librivox_clips = tuple(args.librivox or LIBRIVOX_CLIPS)
    found = [(name, path) for name in clips if (path := clip_path(name)) is not None]
    found += [(video.stem, video) for video in args.videos]
    if not found:
        print("no clip to benchmark: run scripts/extract_talking_clips.py first", file=sys.stderr)
        return 0
    missing = enrolled_engine_missing()
    if missing:
        print(
            f"enrolled avatar: missing ({missing}); the photo engine alone is measured",
            file=sys.stderr,
        )
    judge = FaceJudge()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="bench-enrol-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        librivox = librivox_speech(librivox_clips, work / "librivox.wav")
        for name, path in found:
            rows += bench_clip(judge, name, path, work / name, args, librivox)
    print(markdown_table(rows))
    if args.json:
        figures = {"librivox": librivox_clips, "rows": [_plain(row) for row in rows]}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
