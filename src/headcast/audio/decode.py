"""Any audio file (or bytes) → mono float32 `Audio` at the analysis rate.

Decoding streams packet by packet through a downmix and a streaming resampler, so memory holds
the output plus one chunk, and a file over the length limit is rejected without decoding it all.
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soxr

from headcast.audio.clip import ANALYSIS_SAMPLE_RATE_HZ, Audio, join_chunks
from headcast.audio.frames import mean_square_per_window
from headcast.errors import InputError

_HEAD_BYTES = 64 * 1024
_CHUNK_SAMPLES = 64 * 1024  # source samples gathered before each resampler call
_IMAGE_CODECS = {"mjpeg", "png", "gif", "webp", "bmp", "tiff", "jpeg2000", "apng"}
# Containers whose header states the exact length, so a shortfall means truncation.
_EXACT_LENGTH_FORMATS = {"flac", "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "wav"}
# (zero offset, scale) that map each sample format onto [-1, 1].
_SAMPLE_SCALE = {
    "u8": (128.0, 1.0 / 128),
    "s16": (0.0, 1.0 / 2**15),
    "s32": (0.0, 1.0 / 2**31),
    "s64": (0.0, 1.0 / 2**63),
    "flt": (0.0, 1.0),
    "dbl": (0.0, 1.0),
}


def load_audio(
    source: str | Path | bytes,
    *,
    sample_rate: int = ANALYSIS_SAMPLE_RATE_HZ,
    max_duration_s: float = 600.0,
) -> Audio:
    """Decode any common audio format, judged by content, to mono float32 at `sample_rate`.

    Every failure is an `InputError` whose message names the file and the problem, because
    the caller shows it to a user who picked the wrong file.
    """
    samples = join_chunks(
        stream_audio(source, sample_rate=sample_rate, max_duration_s=max_duration_s),
        reserve_samples=_limit_samples(max_duration_s, sample_rate),
    )
    return Audio(samples=samples, sample_rate=sample_rate)


def stream_audio(
    source: str | Path | bytes,
    *,
    sample_rate: int = ANALYSIS_SAMPLE_RATE_HZ,
    max_duration_s: float = 600.0,
) -> Iterator[np.ndarray]:
    """``load_audio`` a chunk at a time: consecutive mono float32 chunks at ``sample_rate``.

    The same checks, as ``InputError``: those of the file before the first chunk, a file
    longer than ``max_duration_s`` as soon as decoding passes the limit, a truncated or
    damaged file after the last chunk. The chunks join to exactly what ``load_audio`` returns.
    """
    opener: io.BytesIO | str
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        name = f"the audio data ({len(data)} bytes)"
        if not data:
            raise InputError(f"{name} is empty")
        head, size, opener = data[:_HEAD_BYTES], len(data), io.BytesIO(data)
    else:
        path = Path(source)
        name = f"audio file '{path}'"
        head, size = _read_head(path, name)
        opener = f"file:{path.resolve()}"  # "file:" so a name like "concat:x" stays a file

    try:
        container = av.open(opener, mode="r")
    except (av.error.FFmpegError, OSError) as exc:
        kind = _sniff(head)
        if kind:
            raise InputError(
                f"{name} is a damaged or truncated {kind} file ({_reason(exc)})"
            ) from None
        raise InputError(f"{name} is not an audio file (format not recognised)") from None
    return _checked_chunks(container, name, head, size, sample_rate, max_duration_s)


def _checked_chunks(
    container: av.container.InputContainer,
    name: str,
    head: bytes,
    size: int,
    sample_rate: int,
    max_duration_s: float,
) -> Iterator[np.ndarray]:
    with container:
        stream = _audio_stream(container, name)
        declared_s = _declared_duration_s(container, stream, head, size)
        if declared_s is not None and declared_s > max_duration_s + 0.05:
            raise InputError(
                f"{name} is {_fmt_s(declared_s)} long; the limit is {_fmt_s(max_duration_s)}"
            )
        tally = _Tally()
        for chunk in _decode_mono(container, stream, name, sample_rate, max_duration_s, tally):
            if chunk.size:
                tally.samples += chunk.size
                yield chunk
    _check_complete(name, declared_s, tally.decoded_s, tally.bad_packets)
    if tally.samples == 0:
        raise InputError(f"{name} contains no audio samples")


def _limit_samples(max_duration_s: float, sample_rate: int) -> int:
    """The most samples a clip within the limit decodes to (0 where there is no finite limit)."""
    if not np.isfinite(max_duration_s) or max_duration_s <= 0:
        return 0
    return int(np.ceil((max_duration_s + 0.05) * sample_rate)) + _CHUNK_SAMPLES


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Mono float32 resampling (soxr HQ): speech analysis wants one fixed rate."""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} → {to_rate}")
    x = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or x.size == 0:
        return x
    return soxr.resample(x, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


def conform_audio(audio: Audio, sample_rate: int, *, max_duration_s: float = 600.0) -> Audio:
    """Decoded audio checked like ``load_audio`` checks a file (non-empty, mono, within the
    duration limit) and brought to ``sample_rate``."""
    check_decoded(audio, max_duration_s=max_duration_s)
    if audio.sample_rate == sample_rate:
        return audio
    return Audio(resample(audio.samples, audio.sample_rate, sample_rate), sample_rate)


def check_decoded(audio: Audio, *, max_duration_s: float = 600.0) -> None:
    """Raise InputError unless ``audio`` is non-empty mono audio within the duration limit."""
    if audio.samples.size == 0:
        raise InputError("the audio is empty")
    if audio.samples.ndim != 1:
        raise InputError("the audio must be mono (one channel)")
    if audio.duration_s > max_duration_s + 0.05:
        raise InputError(
            f"the audio is {_fmt_s(audio.duration_s)} long; the limit is {_fmt_s(max_duration_s)}"
        )


def is_silent(audio: Audio, threshold_dbfs: float = -50.0) -> bool:
    """True when less than 100 ms (or half of a shorter clip) rises above `threshold_dbfs`.

    Counting loud 10 ms windows, rather than the RMS of the whole clip, keeps long speech with
    long pauses "not silent" and a lone click "silent".
    """
    meter = SilenceMeter(audio.sample_rate, threshold_dbfs)
    meter.add(audio.samples)
    return meter.silent


class SilenceMeter:
    """``is_silent`` of audio that arrives a chunk at a time."""

    def __init__(self, sample_rate: int, threshold_dbfs: float = -50.0) -> None:
        self._window = max(1, sample_rate // 100)
        self._threshold = 10.0 ** (threshold_dbfs / 20.0)
        self._rest = np.zeros(0, np.float32)  # the start of a window not yet complete
        self._windows = 0
        self._loud = 0

    def add(self, chunk: np.ndarray) -> None:
        x = np.asarray(chunk, dtype=np.float32)
        if self._rest.size:
            x = np.concatenate([self._rest, x])
        whole = x.size // self._window * self._window
        rms = np.sqrt(mean_square_per_window(x[:whole], self._window))
        self._loud += int(np.count_nonzero(rms > self._threshold))
        self._windows += len(rms)
        self._rest = x[whole:].copy()

    @property
    def silent(self) -> bool:
        if self._windows == 0:
            return True
        return self._loud < min(10, max(1, self._windows // 2))


def _read_head(path: Path, name: str) -> tuple[bytes, int]:
    """Open the file ourselves first: OS errors read better than FFmpeg's."""
    if not path.exists():
        raise InputError(f"{name} not found")
    if path.is_dir():
        raise InputError(f"{name} is a directory, not a file")
    try:
        with path.open("rb") as f:
            head = f.read(_HEAD_BYTES)
            size = os.fstat(f.fileno()).st_size
    except PermissionError:
        raise InputError(f"{name} cannot be read: permission denied") from None
    except OSError as exc:
        raise InputError(f"{name} cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(f"{name} is empty (0 bytes)")
    return head, size


def _sniff(head: bytes) -> str | None:
    """Name the audio format the magic bytes claim, to tell 'damaged' from 'not audio'."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "Matroska/WebM"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "AIFF"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3/AAC"
    return None


def _audio_stream(container: av.container.InputContainer, name: str) -> av.AudioStream:
    if container.streams.audio:
        return container.streams.audio[0]
    video = container.streams.video
    if container.format.name.endswith("_pipe") or container.format.name == "image2":
        raise InputError(f"{name} is an image ({container.format.name}), not audio")
    if video and all(s.codec_context.name in _IMAGE_CODECS for s in video):
        raise InputError(f"{name} is an image ({video[0].codec_context.name}), not audio")
    if video:
        raise InputError(f"{name} has no audio track (it holds video only)")
    raise InputError(f"{name} is not an audio file (no audio stream found)")


def _declared_duration_s(
    container: av.container.InputContainer, stream: av.AudioStream, head: bytes, size: int
) -> float | None:
    """Length the header promises, where it is exact; None where it is a guess or unknown."""
    fmt = container.format.name
    if fmt == "wav":
        return _wav_header_duration_s(head)
    # Without a Xing/Info/VBRI tag FFmpeg guesses an MP3's length from its first bitrate.
    if fmt not in _EXACT_LENGTH_FORMATS and not (fmt == "mp3" and _mp3_length_tagged(head)):
        return None
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1e6
    return None


def _mp3_length_tagged(head: bytes) -> bool:
    """Whether the first MP3 frame (after any ID3v2 tag) carries a frame count."""
    start = 0
    if head[:3] == b"ID3" and len(head) >= 10:
        size = head[6:10]
        start = 10 + ((size[0] & 0x7F) << 21 | (size[1] & 0x7F) << 14 | (size[2] & 0x7F) << 7
                      | size[3] & 0x7F)  # fmt: skip
    first_frame = head[start : start + 200]
    return any(tag in first_frame for tag in (b"Xing", b"Info", b"VBRI"))


def _wav_header_duration_s(head: bytes) -> float | None:
    """FFmpeg trims a WAV's data size to the file, hiding truncation; read the header itself."""
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk_id, chunk_size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk_id == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, pos + 16)[0]
        if chunk_id == b"data":
            if byte_rate <= 0 or chunk_size in (0, 0xFFFFFFFF):
                return None  # streaming writers leave the size open
            return chunk_size / byte_rate
        pos += 8 + chunk_size + (chunk_size & 1)
    return None


@dataclass
class _Tally:
    """What decoding found, complete once the last chunk is out."""

    decoded_s: float = 0.0
    bad_packets: int = 0
    samples: int = 0


def _decode_mono(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    name: str,
    out_rate: int,
    max_duration_s: float,
    tally: _Tally,
) -> Iterator[np.ndarray]:
    """Decode, downmix and resample → chunks clipped to [-1, 1]; ``tally`` counts as it goes."""
    pending: list[np.ndarray] = []
    pending_n = 0
    in_rate = 0
    decoded_s = 0.0
    resampler: soxr.ResampleStream | None = None
    packets = bad_packets = 0

    def flush(last: bool) -> np.ndarray:
        nonlocal pending, pending_n
        x = np.concatenate(pending) if pending else np.zeros(0, np.float32)
        pending, pending_n = [], 0
        if resampler is not None and (x.size or last):
            x = resampler.resample_chunk(x, last=last)
        x = x.astype(np.float32, copy=False)
        np.clip(x, -1.0, 1.0, out=x)
        return x

    try:
        for packet in container.demux(stream):
            packets += packet.size > 0  # empty packets only drain the decoder
            try:
                frames = packet.decode()
            except av.error.FFmpegError:
                bad_packets += 1
                continue
            for frame in frames:
                if frame.sample_rate != in_rate:  # first frame, or a mid-stream rate change
                    if in_rate:
                        yield flush(last=True)
                    in_rate = frame.sample_rate
                    resampler = (
                        None
                        if in_rate == out_rate
                        else soxr.ResampleStream(in_rate, out_rate, 1, dtype="float32")
                    )
                mono = _frame_to_mono(frame)
                pending.append(mono)
                pending_n += mono.size
                decoded_s += mono.size / in_rate
                tally.decoded_s = decoded_s
                if decoded_s > max_duration_s + 0.05:
                    raise InputError(f"{name} is longer than the {_fmt_s(max_duration_s)} limit")
                if pending_n >= _CHUNK_SAMPLES:
                    yield flush(last=False)
    except av.error.FFmpegError as exc:
        raise InputError(
            f"{name} is damaged or truncated: reading stopped at {_fmt_s(decoded_s)} "
            f"({_reason(exc)})"
        ) from None
    if bad_packets > max(2, packets // 50):
        raise InputError(
            f"{name} is damaged: {bad_packets} of {packets} audio packets could not be decoded"
        )
    tally.bad_packets = bad_packets
    if in_rate:
        yield flush(last=True)


def _frame_to_mono(frame: av.AudioFrame) -> np.ndarray:
    """Any sample format and channel count → mono float32 in [-1, 1] (channel mean)."""
    fmt = frame.format.name.removesuffix("p")
    offset, scale = _SAMPLE_SCALE[fmt]
    arr = frame.to_ndarray()
    channels = frame.layout.nb_channels
    if not frame.format.is_planar and channels > 1:
        arr = arr.reshape(-1, channels).T
    mono = arr[0].astype(np.float32) if channels == 1 else arr.mean(axis=0, dtype=np.float32)
    if offset:
        mono -= np.float32(offset)
    if scale != 1.0:
        mono *= np.float32(scale)
    return mono


def _check_complete(
    name: str, declared_s: float | None, decoded_s: float, bad_packets: int
) -> None:
    """A file that decodes shorter than its header says lost its end.

    The tolerance covers codec priming and rounding in container headers (a few ms).
    """
    if declared_s is None:
        return
    shortfall_s = declared_s - decoded_s
    if shortfall_s > 0.03 + 0.002 * declared_s or (bad_packets and shortfall_s > 0.01):
        raise InputError(
            f"{name} is truncated or damaged: its header says {_fmt_s(declared_s)} "
            f"but only {_fmt_s(decoded_s)} could be decoded"
        )


def _reason(exc: Exception) -> str:
    """FFmpeg's message without the errno and the '<none>' file name."""
    return str(getattr(exc, "strerror", None) or exc).strip().rstrip(".").lower()


def _fmt_s(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s" if seconds < 600 else f"{seconds / 60:.1f} min"
