"""Build ``tests/media/grid-s1.mp4``: one GRID speaker talking for 15 s, to enrol in tests.

The GRID audiovisual corpus (Cooke, Barker, Cunningham, Shao, JASA 2006) is licensed CC BY 4.0,
so a few of its clips may ship with the tests, attributed in ``tests/media/README.md``. Five
3 s sentences of speaker s1 are read out of a local git copy of ``osalinasv/lipnet`` (which
carries all 1000 of that speaker's clips) by blob id, checked against their SHA-256 and joined:
video re-encoded to H.264 (yuv420p, 25 fps, 360×288 as recorded), audio to AAC mono.

    .venv/bin/python scripts/make_grid_sample.py --mirrors /work/.mirror   # OWNER+NAME/repo
    .venv/bin/python scripts/make_grid_sample.py --repo /path/to/lipnet/.git
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "media" / "grid-s1.mp4"

SOURCE_REPO = "osalinasv/lipnet"
SOURCE_COMMIT = "2149e39d8ea90b6832e53b966c689c1c1eddaec4"  # the clips left the tree later
SOURCE_DIR = "preprocessing/detect-face-parts/pruebas/videos/s1"

FPS = 25
SAMPLE_RATE_HZ = 16_000  # the rate speech is analysed at; GRID's sentences need no more
AUDIO_BIT_RATE_BPS = 32_000
# crf 18: lips and teeth as sharp as in the MPEG-1 source (whose own artefacts stay); 0.76 MB.
VIDEO_OPTIONS = {"preset": "slow", "crf": "18"}


@dataclass(frozen=True)
class GridClip:
    """One GRID sentence: its file name (which spells the sentence), blob id and checksum."""

    name: str
    transcript: str
    blob: str
    sha256: str

    @property
    def path(self) -> str:
        return f"{SOURCE_DIR}/{self.name}.mpg"


# Four commands, four colours, four prepositions, every adverb: varied mouth shapes.
CLIPS: tuple[GridClip, ...] = (
    GridClip("bbaf2n", "bin blue at f two now",
             "76f7022b6986d8576280fd9415626dfd0d49b5a4",
             "e468120039e208b5ff9b9e269f8dc96bbddc45701f8dddcf2c0ae21abc0df546"),
    GridClip("lgiz3s", "lay green in z three soon",
             "92e243e1492be90727707c119f886f62b2b9dcfa",
             "a59500199a18860798d05cd6bede8a3d00ef785f6832dcaf8d9174fa8e66f34e"),
    GridClip("pgbe4p", "place green by e four please",
             "4c81c02b492b837c3ba06d3d66891a4c8a9eaefe",
             "56ed1a518771498e1ff8cc31db42fd926579e78edc38bf26adaa202b761c6d9c"),
    GridClip("lrwl7a", "lay red with l seven again",
             "3e9e22130e6fc9aba7cee32b28a6f2196648d1de",
             "48938209cc0b0af798c32feb28feda2f2c052657885b96b666a83d443ce585dd"),
    GridClip("swao6p", "set white at o six please",
             "3672230640f70a6a56f83ae386c0d3a063231f18",
             "81345f01e23f66744903ddbf11f5521d50de2caef2c9cfd1b9c630706e10ef2e"),
)  # fmt: skip

TRANSCRIPT = " ".join(clip.transcript for clip in CLIPS)


def git_dir_in(mirrors: Path, repo: str) -> Path:
    """The git directory of ``repo`` under a folder of ``OWNER+NAME/repo`` copies."""
    copy = mirrors / repo.replace("/", "+") / "repo"
    return copy / ".git" if (copy / ".git").is_dir() else copy


def read_clip(clip: GridClip, git_dir: Path) -> bytes:
    """The clip's bytes out of ``git_dir``; ValueError when missing or not as recorded."""
    blob = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "blob", clip.blob], capture_output=True
    )
    if blob.returncode != 0:
        raise ValueError(f"{SOURCE_REPO} at {git_dir} has no blob {clip.blob} ({clip.path})")
    digest = hashlib.sha256(blob.stdout).hexdigest()
    if digest != clip.sha256:
        raise ValueError(f"{clip.name}: blob {clip.blob} hashes to {digest}, not {clip.sha256}")
    return blob.stdout


def decode_clip(data: bytes) -> tuple[list[np.ndarray], np.ndarray]:
    """RGB frames and mono audio at ``SAMPLE_RATE_HZ``, the audio cut or padded with silence
    to the video's length so that joined clips stay in sync (GRID's audio ends 22 ms early)."""
    with av.open(io.BytesIO(data), "r") as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE_HZ)
    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data), "r") as container:
        for frame in container.decode(audio=0):
            chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(frame))
        chunks.extend(r.to_ndarray().reshape(-1) for r in resampler.resample(None))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    wanted = round(len(frames) * SAMPLE_RATE_HZ / FPS)
    samples = np.pad(samples[:wanted], (0, max(0, wanted - len(samples))))
    return frames, samples.astype(np.float32)


def write_video(frames: list[np.ndarray], audio: np.ndarray, output: Path) -> None:
    """H.264 yuv420p at ``FPS`` and AAC mono, playable everywhere (faststart)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    with av.open(str(output), "w", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.options = dict(VIDEO_OPTIONS)
        sound = container.add_stream("aac", rate=SAMPLE_RATE_HZ, layout="mono")
        sound.bit_rate = AUDIO_BIT_RATE_BPS
        for rgb in frames:
            container.mux(video.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(video.encode(None))
        step = 1024  # one AAC frame
        for start in range(0, len(audio), step):
            chunk = audio[start : start + step].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = SAMPLE_RATE_HZ
            frame.pts = start
            frame.time_base = Fraction(1, SAMPLE_RATE_HZ)
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))


def build(git_dir: Path, output: Path = OUTPUT) -> Path:
    """Join ``CLIPS`` out of ``git_dir`` into ``output``; the file written."""
    frames: list[np.ndarray] = []
    audio: list[np.ndarray] = []
    for clip in CLIPS:
        clip_frames, clip_audio = decode_clip(read_clip(clip, git_dir))
        frames.extend(clip_frames)
        audio.append(clip_audio)
    write_video(frames, np.concatenate(audio), output)
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--mirrors", type=Path, help="a folder of OWNER+NAME/repo git copies")
    source.add_argument("--repo", type=Path, help=f"the git directory of {SOURCE_REPO}")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    git_dir = args.repo or git_dir_in(args.mirrors, SOURCE_REPO)
    try:
        written = build(git_dir, args.output)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{written}: {written.stat().st_size / 1e6:.2f} MB, {len(CLIPS)} clips")
    return 0


if __name__ == "__main__":
    sys.exit(main())
