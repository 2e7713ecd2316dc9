"""Fragmented MP4 (H.264 + AAC) made as frames arrive, for Media Source Extensions playback.

The first bytes are the init segment (``ftyp`` + ``moov``); every later piece is whole or
partial ``moof`` + ``mdat`` fragments, which a browser appends to one SourceBuffer in order.
A fragment leaves once the next frame arrives (its last sample's duration is then known) and
the AAC encoder has caught up, so the stream runs about two frames behind the frames written.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from headcast.errors import HeadcastError
from headcast.video.encode import AAC_OPTIONS, tag_bt709, to_yuv420p

AUDIO_RATE_HZ = 48_000  # AAC frames are 1024 samples: 21 ms here, 64 ms at 16 kHz
KEYFRAME_INTERVAL_S = 2.0
VIDEO_OPTIONS = {"preset": "ultrafast", "tune": "zerolatency", "crf": "23"}
AUDIO_BIT_RATE = 64_000
AAC_LC_CODEC = "mp4a.40.2"
H264_SPS_NAL_TYPE = 7


class _Sink:
    """Where the muxer writes; the bytes are taken as they come."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self._parts = b"".join(self._parts), []
        return out


class FragmentedMp4Writer:
    """RGB frames and the int16 mono audio that plays over each → fragmented MP4 bytes."""

    def __init__(
        self, width: int, height: int, fps: float, audio_rate: int = AUDIO_RATE_HZ
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError(f"video size must be positive and even, got {width}x{height}")
        self.width, self.height = width, height
        self.fps = Fraction(fps).limit_denominator(1001)
        self.audio_rate = audio_rate
        self._sink = _Sink()
        frame_s = 1 / float(self.fps)
        self._container = av.open(
            self._sink,
            "w",
            format="mp4",
            options={
                "movflags": "empty_moov+default_base_moof+frag_keyframe+skip_trailer",
                "frag_duration": str(int(frame_s * 1e6)),
                # Write each packet at once instead of holding video back for later audio.
                "max_interleave_delta": "1",
            },
        )
        self._video = self._container.add_stream("libx264", rate=self.fps)
        ctx = self._video.codec_context
        ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
        ctx.time_base = 1 / self.fps
        ctx.options = {**VIDEO_OPTIONS, "g": str(max(1, round(KEYFRAME_INTERVAL_S / frame_s)))}
        ctx.thread_count = 1  # many live streams share the cores; one thread each scales best
        tag_bt709(ctx)
        self._audio = self._container.add_stream("aac", rate=audio_rate, layout="mono")
        self._audio.codec_context.time_base = Fraction(1, audio_rate)
        self._audio.codec_context.bit_rate = AUDIO_BIT_RATE
        self._audio.codec_context.options = dict(AAC_OPTIONS)
        self._container.start_encoding()
        self.init_segment = self._sink.take()
        self.mime = (
            f'video/mp4; codecs="{_avc1_codec(bytes(ctx.extradata or b""))}, {AAC_LC_CODEC}"'
        )
        self._frames = 0
        self._samples = 0
        self._closed = False

    def write(self, frame: np.ndarray, audio: np.ndarray) -> bytes:
        """Encode one HxWx3 uint8 RGB frame and its audio; the fragment bytes now complete."""
        if self._closed:
            raise RuntimeError("FragmentedMp4Writer is closed")
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(
                f"expected a {self.height}x{self.width}x3 uint8 RGB frame, got {frame.shape}"
            )
        try:
            if len(audio):
                pcm = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(np.asarray(audio, np.int16)[None, :]),
                    format="s16",
                    layout="mono",
                )
                pcm.sample_rate = self.audio_rate
                pcm.pts = self._samples
                self._samples += len(audio)
                self._container.mux(self._audio.encode(pcm))
            yuv = to_yuv420p(frame)
            yuv.pts = self._frames
            self._frames += 1
            self._container.mux(self._video.encode(yuv))
        except av.error.FFmpegError as exc:
            raise HeadcastError(f"could not encode the stream: {exc}") from None
        return self._sink.take()

    def close(self) -> bytes:
        """Flush the encoders: the last fragments."""
        if self._closed:
            return b""
        self._closed = True
        try:
            self._container.mux(self._video.encode(None))
            self._container.mux(self._audio.encode(None))
            self._container.close()
        except av.error.FFmpegError as exc:
            raise HeadcastError(f"could not finish the stream: {exc}") from None
        return self._sink.take()


def _avc1_codec(extradata: bytes) -> str:
    """The RFC 6381 codec string (``avc1.PPCCLL``) from the encoder's SPS."""
    if extradata[:1] == b"\x01" and len(extradata) >= 4:  # avcC: profile, flags, level
        profile = extradata[1:4]
    else:  # Annex B: start codes, then NAL units; the SPS's first bytes after its header
        sps = [
            n for n in extradata.split(b"\x00\x00\x01") if n and n[0] & 0x1F == H264_SPS_NAL_TYPE
        ]
        profile = sps[0][1:4] if sps else b""
    return "avc1." + (profile.hex().upper() if len(profile) == 3 else "42E01F")
