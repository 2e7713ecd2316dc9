"""Regenerate docs/demo_strip.png: frames of the demo video, each labelled with its phone.

Run: `make strip`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# One frame per kind of mouth shape, at the middle of the first phone of that kind.
SHAPES = (
    ("SIL",),
    ("M", "B", "P"),
    ("AA", "AE"),
    ("IY", "IH"),
    ("OW", "UW", "AO"),
    ("F", "V"),
    ("EH", "AH"),
    ("S", "Z"),
)
TILE_PX = 256


def main() -> None:
    import av

    from headcast.animate import animate
    from headcast.audio import load_audio
    from headcast.phones import phones_from_audio

    image = ROOT / "samples" / "astronaut.png"
    speech = ROOT / "tests" / "media" / "librivox-0870.wav"
    text = (ROOT / "tests" / "media" / "librivox-0870.txt").read_text()
    track = phones_from_audio(load_audio(speech), text)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo.mp4"
        animate(image, speech, out, text=text, head_motion=False)
        with av.open(str(out)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    times = []
    for labels in SHAPES:
        phone = next((p for p in track.phones if p.label in labels and p.duration_s >= 0.04), None)
        if phone is not None:
            times.append(0.5 * (phone.start_s + phone.end_s))
    tiles = []
    for t in times:
        frame = frames[min(round(t * 25), len(frames) - 1)]
        tile = cv2.resize(frame[96:416, 96:416], (TILE_PX, TILE_PX), interpolation=cv2.INTER_AREA)
        phone = track.at(t)
        label = f"{t:.2f}s {phone.label if phone else ''}"
        cv2.rectangle(tile, (0, 0), (TILE_PX, 24), (0, 0, 0), -1)
        cv2.putText(
            tile, label, (6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 1, cv2.LINE_AA
        )
        tiles.append(tile)
    strip = np.hstack(tiles)
    target = ROOT / "docs" / "demo_strip.png"
    cv2.imwrite(str(target), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
