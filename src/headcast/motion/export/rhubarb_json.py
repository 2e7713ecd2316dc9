"""Rhubarb Lip Sync's JSON: ``metadata`` (soundFile, duration) and ``mouthCues``.

Each cue is ``{"start": s, "end": s, "value": shape}``; times have two decimals. The layout
(two-space indent, one cue per line) is Rhubarb's own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from headcast.motion.mouth_cues import SHAPES, MouthCue, MouthCueTrack


def write(
    cues: Sequence[MouthCue], *, sound_file: str = "", duration_s: float | None = None
) -> str:
    duration = duration_s if duration_s is not None else (cues[-1].end_s if cues else 0.0)
    shown = list(cues) or [MouthCue(0.0, 0.0, "X")]  # Rhubarb never writes an empty list
    lines = [
        "{",
        '  "metadata": {',
        f'    "soundFile": {json.dumps(sound_file, ensure_ascii=False)},',
        f'    "duration": {duration:.2f}',
        "  },",
        '  "mouthCues": [',
        ",\n".join(
            f'    {{ "start": {c.start_s:.2f}, "end": {c.end_s:.2f}, "value": "{c.shape}" }}'
            for c in shown
        ),
        "  ]",
        "}",
    ]
    return "\n".join(lines) + "\n"


def read(text: str) -> MouthCueTrack:
    """Cues and metadata of a Rhubarb JSON file; ValueError if it is not one."""
    try:
        data = json.loads(text)
        metadata = data.get("metadata", {})
        cues = tuple(
            MouthCue(float(cue["start"]), float(cue["end"]), str(cue["value"]))
            for cue in data["mouthCues"]
        )
        duration = float(metadata.get("duration", cues[-1].end_s if cues else 0.0))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a Rhubarb JSON document: {exc}") from None
    bad = [cue.shape for cue in cues if cue.shape not in SHAPES]
    if bad:
        raise ValueError(f"unknown mouth shape {bad[0]!r}")
    cues = tuple(cue for cue in cues if cue.end_s > cue.start_s)
    return MouthCueTrack(cues, duration, str(metadata.get("soundFile", "")))
