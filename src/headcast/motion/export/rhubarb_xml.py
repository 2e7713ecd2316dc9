"""Rhubarb Lip Sync's XML: ``<rhubarbResult>`` with ``<metadata>`` and ``<mouthCues>``.

Each ``<mouthCue start=".." end="..">shape</mouthCue>``; times have two decimals.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from headcast.motion.mouth_cues import SHAPES, MouthCue, MouthCueTrack


def write(
    cues: Sequence[MouthCue], *, sound_file: str = "", duration_s: float | None = None
) -> str:
    duration = duration_s if duration_s is not None else (cues[-1].end_s if cues else 0.0)
    shown = list(cues) or [MouthCue(0.0, 0.0, "X")]
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<rhubarbResult>",
        "  <metadata>",
        f"    <soundFile>{escape(sound_file)}</soundFile>",
        f"    <duration>{duration:.2f}</duration>",
        "  </metadata>",
        "  <mouthCues>",
        *(
            f"    <mouthCue start={quoteattr(f'{c.start_s:.2f}')} "
            f"end={quoteattr(f'{c.end_s:.2f}')}>{c.shape}</mouthCue>"
            for c in shown
        ),
        "  </mouthCues>",
        "</rhubarbResult>",
    ]
    return "\n".join(lines) + "\n"


def read(text: str) -> MouthCueTrack:
    """Cues and metadata of a Rhubarb XML file; ValueError if it is not one."""
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise ValueError(f"not XML: {exc}") from None
    if root.tag != "rhubarbResult":
        raise ValueError(f"not a Rhubarb XML document (root element <{root.tag}>)")
    cues = []
    for element in root.iterfind("mouthCues/mouthCue"):
        shape = (element.text or "").strip()
        if shape not in SHAPES:
            raise ValueError(f"unknown mouth shape {shape!r}")
        try:
            cue = MouthCue(float(element.get("start", "")), float(element.get("end", "")), shape)
        except ValueError:
            raise ValueError("a mouthCue lacks a numeric start or end") from None
        if cue.end_s > cue.start_s:
            cues.append(cue)
    duration_text = root.findtext("metadata/duration")
    duration = float(duration_text) if duration_text else (cues[-1].end_s if cues else 0.0)
    return MouthCueTrack(tuple(cues), duration, root.findtext("metadata/soundFile") or "")
