"""The README's map of the tree names every package there is, and nothing that is not."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "headcast"


def _layout() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1]
    return section.split("```", 2)[1]


def test_the_layout_names_every_package_and_top_level_module():
    layout = _layout()
    named = set(re.findall(r"\b([a-z_]+)/", layout)) | set(re.findall(r"\b([a-z_]+)\.py\b", layout))
    packages = {p.parent.name for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE}
    modules = {p.stem for p in PACKAGE.glob("*.py") if not p.stem.startswith("_")}
    assert packages - named == set(), "packages missing from the README's layout"
    assert modules - named == set(), "modules missing from the README's layout"
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    for top in re.findall(r"^([a-z_]+)/", layout, re.MULTILINE):
        assert top == "src" or top in folders, f"the layout names {top}/, which does not exist"
