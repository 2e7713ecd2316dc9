"""Regenerate docs/head-turns.jpg: three bundled portraits speaking LibriVox speech, one row
each, a frame every 80 ms over the second where the independent judge sees the head turn
most (the same stretch and crop as ``benchmarks/bench_realism.py --sheets``).

Run: `.venv/bin/python scripts/make_head_turn_sheet.py`.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_realism import (  # noqa: E402
    FPS,
    SPEECH_MIN_S,
    render,
    speech_for,
    turn_start,
)
from quality.contact_sheet import (  # noqa: E402
    FACE_CROP_EYE_DISTANCES,
    SheetRow,
    compose_sheet,
    face_tile,
    write_sheet,
)
from quality.judge import FaceJudge  # noqa: E402
from quality.video import read_video  # noqa: E402
from tests.conftest import MEDIA, SAMPLES  # noqa: E402

PORTRAITS = (SAMPLES / "astronaut.png", MEDIA / "obama.jpg", MEDIA / "biden.jpg")
OUTPUT = ROOT / "docs" / "head-turns.jpg"
WINDOW_S = 1.04  # 14 frames, 80 ms apart
STEP_S = 0.08
TILE_PX = 120
CROP_EYE_DISTANCES = 4.2  # wider than a face tile, so the travel across the frame shows


def main() -> None:
    judge = FaceJudge()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for index, portrait in enumerate(PORTRAITS):
            speech = speech_for(index, Path(tmp), SPEECH_MIN_S)
            video_path = Path(tmp) / f"{portrait.stem}.mp4"
            render(portrait, speech, video_path)
            frames = read_video(video_path).frames
            measures = judge.track(frames)
            start = turn_start(measures, FPS, WINDOW_S)
            step = round(STEP_S * FPS)
            picked = list(range(start, min(start + round(WINDOW_S * FPS), len(frames)), step))
            middle = measures[picked[len(picked) // 2]]
            if middle is not None:
                widen = CROP_EYE_DISTANCES / FACE_CROP_EYE_DISTANCES
                middle = replace(middle, inter_ocular=middle.inter_ocular * widen)
            label = f"{portrait.stem} {start / FPS:.2f} s"
            rows.append(SheetRow(label, [face_tile(frames[i], middle, TILE_PX) for i in picked]))
    columns = [f"+{round(c * STEP_S * 1000)} ms" for c in range(len(rows[0].tiles))]
    title = "Head turns while speaking: a frame every 80 ms, where each head turns most"
    write_sheet(OUTPUT, compose_sheet(rows, columns, title, TILE_PX))
    print(OUTPUT)


if __name__ == "__main__":
    main()
