"""Speed of `headcast pick-reference` on 12 MP phone-sized JPEGs.

Builds N photos of 4032x3024 (portrait and landscape, some with an EXIF rotation) from the real
portraits in the repository, upscaled with film grain so that they compress like phone pictures,
then times `rank_references` on them: photos per second overall, and the split between decoding
(reduced, JPEG draft mode) and analysis (landmarks and criteria). Run:
`.venv/bin/python benchmarks/bench_pick_reference.py`.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PORTRAITS = [
    ROOT / "tests" / "media" / "obama.jpg",
    ROOT / "tests" / "media" / "biden.jpg",
    ROOT / "tests" / "media" / "obama2.jpg",
    ROOT / "samples" / "astronaut.png",
]
PHONE_SIZE = (3024, 4032)  # 12 MP, portrait
EXIF_ORIENTATION = 0x0112


def phone_photo(source: Path, index: int, out: Path) -> Path:
    """A 12 MP JPEG of ``source``: upscaled, with grain, every third one stored sideways."""
    rng = np.random.default_rng(index)
    img = Image.open(source).convert("RGB")
    width, height = PHONE_SIZE if index % 2 == 0 else PHONE_SIZE[::-1]
    scale = max(width / img.width, height / img.height)
    img = img.resize(
        (round(img.width * scale), round(img.height * scale)), Image.Resampling.BICUBIC
    )
    left, top = (img.width - width) // 2, (img.height - height) // 4
    pixels = np.asarray(img.crop((left, top, left + width, top + height)), np.int16)
    grain = rng.integers(-5, 6, size=pixels.shape[:2], dtype=np.int16)[:, :, None]
    photo = Image.fromarray(np.clip(pixels + grain, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    if index % 3 == 0:  # stored rotated; the EXIF tag says how to turn it upright
        photo = photo.transpose(Image.Transpose.ROTATE_90)
        exif[EXIF_ORIENTATION] = 6
    path = out / f"phone_{index:02d}.jpg"
    photo.save(path, quality=90, exif=exif)
    return path


def main() -> None:
    from headcast.face import reference_score
    from headcast.face.image_io import load_image
    from headcast.face.landmarks import detect_faces

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--photos", type=int, default=24, help="number of 12 MP photos")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs; the best is kept")
    args = parser.parse_args()

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        files = [
            phone_photo(PORTRAITS[i % len(PORTRAITS)], i, Path(tmp)) for i in range(args.photos)
        ]
        megabytes = sum(f.stat().st_size for f in files) / len(files) / 1e6
        print(f"photos: {len(files)} JPEGs of 4032x3024 (12.2 MP), {megabytes:.1f} MB each\n")
        detect_faces(load_image(PORTRAITS[0]))  # load the landmark model outside the timing

        t0 = time.perf_counter()
        decoded = [reference_score.load_reduced(f) for f in files]
        decode_s = (time.perf_counter() - t0) / len(files)
        t0 = time.perf_counter()
        for f, (rgb, scale, size) in zip(files, decoded, strict=True):
            reference_score.score_reference(rgb, str(f), source_scale=scale, source_size=size)
        analyse_s = (time.perf_counter() - t0) / len(files)
        t0 = time.perf_counter()
        for f in files[:4]:
            load_image(f)
        full_decode_s = (time.perf_counter() - t0) / 4

        rows = []
        for workers in (1, reference_score.DECODE_WORKERS):
            reference_score.DECODE_WORKERS = workers
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                ranked, skipped = reference_score.rank_references([tmp])
                best = min(best, time.perf_counter() - t0)
            assert len(ranked) == len(files) and not skipped
            assert all(r.usable for r in ranked), "a face was missed"
            rows.append((workers, best))

    print("| step | ms per photo |")
    print("|---|---|")
    print(
        f"| decode, reduced (draft to ≥ {reference_score.DECODE_LONG_SIDE_PX} px) | {decode_s * 1e3:.1f} |"
    )
    print(f"| analyse (landmarks + criteria) | {analyse_s * 1e3:.1f} |")
    print(f"| for comparison: full decode with load_image | {full_decode_s * 1e3:.1f} |")
    print("\n| rank_references | wall s | photos/s |")
    print("|---|---|---|")
    for workers, seconds in rows:
        print(f"| {workers} decode thread(s) | {seconds:.2f} | {len(files) / seconds:.1f} |")
    print("\ntarget: ≥ 10 photos of 12 MP per second")


if __name__ == "__main__":
    main()
