"""Regenerate docs/pick_reference_sheet.png: the pick-reference test set, ranked.

The photos are those of tests/test_pick_reference.py (an untouched frontal portrait, a real
second portrait, and copies of the first spoiled one way each) plus one unreadable file, to show
how a skipped file looks. Run: `.venv/bin/python scripts/make_pick_reference_sheet.py`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "pick_reference_sheet.png"


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from headcast.face.reference_score import rank_references
    from headcast.face.reference_sheet import draw_contact_sheet, write_png
    from tests.test_pick_reference import build_test_set

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "portraits"
        build_test_set(folder)
        (folder / "notes.jpg").write_text("not a photo\n")
        ranked, skipped = rank_references([folder])
        title = "headcast pick-reference on its test set: the untouched frontal photo first"
        sheet = draw_contact_sheet(ranked, skipped, title=title)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    write_png(sheet, OUT)
    for r in ranked:
        flaw = r.main_flaw.reason if r.main_flaw else "no notable flaw"
        print(f"{r.rank:>2}  {r.score:.2f}  {Path(r.path).name:<22} {flaw}")
    for s in skipped:
        print(f" -     -   {Path(s.path).name:<22} skipped: {s.reason}")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
