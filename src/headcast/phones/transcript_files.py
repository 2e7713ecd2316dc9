"""Transcripts as timed segments: plain text, SubRip (``.srt``), WebVTT (``.vtt``) and NIST
``.stm``, told apart by their content (a transcript may come as a string from any caller).

Plain text gives one untimed segment per non-empty line (a ``NAME:`` prefix is taken as the
speaker); the subtitle and ``.stm`` formats give one segment per cue, with its times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# SubRip and WebVTT cue times: [hh:]mm:ss,mmm or [hh:]mm:ss.mmm
_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{2})[,.](\d{1,3})"
_CUE_TIMES = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>")  # WebVTT voice/style tags and SubRip's <i>, <b>, <font>
_VOICE = re.compile(r"<v(?:\.[\w.-]+)?\s+([^>]+)>")
# "JOHN: ", "Speaker 2: ", "[Anna]: ": up to three capitalized words before a colon
_SPEAKER_PREFIX = re.compile(
    r"^\s*((?:[A-Z0-9][\w.'-]*)(?: [A-Z0-9][\w.'-]*){0,2}|\[[^\]]{1,30}\])\s*:\s+"
)
# file channel speaker start end [<label>] words
_STM_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s*(.*)$")
_STM_SKIPPED = re.compile(r"ignore_time_segment_in_scoring", re.IGNORECASE)
_STM_MARKUP = re.compile(r"\([^)]*\)|\{[^}]*\}|\[[^\]]*\]")  # optional words, alternatives, noises


@dataclass(frozen=True)
class TranscriptSegment:
    """Words said in one stretch (a line, a cue), between ``start_s`` and ``end_s`` if known."""

    text: str
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None

    @property
    def timed(self) -> bool:
        return self.start_s is not None and self.end_s is not None


@dataclass(frozen=True)
class Transcript:
    """A transcript's segments in order; ``format`` is ``plain``, ``srt``, ``vtt`` or ``stm``."""

    segments: tuple[TranscriptSegment, ...]
    format: str = "plain"

    @property
    def text(self) -> str:
        """All the words, segment after segment."""
        return " ".join(segment.text for segment in self.segments)

    @property
    def timed(self) -> bool:
        return bool(self.segments) and all(segment.timed for segment in self.segments)


def parse_transcript(text: str) -> Transcript:
    """The segments of ``text``, read as WebVTT, SubRip, ``.stm`` or plain lines."""
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith("WEBVTT"):
        return Transcript(tuple(_cues(text, vtt=True)), "vtt")
    lines = [line for line in text.splitlines() if line.strip()]
    if any(_CUE_TIMES.match(line) for line in lines[:3]):
        return Transcript(tuple(_cues(text, vtt=False)), "srt")
    stm = [line for line in lines if not line.lstrip().startswith(";;")]
    if stm and all(_STM_LINE.match(line) for line in stm):
        return Transcript(tuple(_stm(stm)), "stm")
    return Transcript(tuple(_plain(lines)), "plain")


def _seconds(hours: str | None, minutes: str, seconds: str, millis: str) -> float:
    return (
        int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds) + int(millis.ljust(3, "0")) / 1000
    )


def _cues(text: str, *, vtt: bool) -> list[TranscriptSegment]:
    """SubRip or WebVTT cues: a timing line, then text lines up to a blank line."""
    segments: list[TranscriptSegment] = []
    blocks = re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    for block in blocks:
        lines = block.strip("\n").split("\n")
        at = next((i for i, line in enumerate(lines) if _CUE_TIMES.match(line)), None)
        if at is None:
            continue  # the WEBVTT header, NOTE, STYLE and REGION blocks, stray text
        times = _CUE_TIMES.match(lines[at])
        assert times is not None
        start = _seconds(*times.groups()[:4])
        end = _seconds(*times.groups()[4:])
        speaker = None
        words: list[str] = []
        for line in lines[at + 1 :]:
            voice = _VOICE.search(line) if vtt else None
            if voice:
                speaker = voice.group(1).strip()
            line = _TAG.sub("", line).strip()
            prefix = _SPEAKER_PREFIX.match(line)
            if prefix:
                speaker = speaker or prefix.group(1).strip("[] ")
                line = line[prefix.end() :]
            if line:
                words.append(line)
        if words and end > start:
            segments.append(TranscriptSegment(" ".join(words), start, end, speaker))
    return segments


def _stm(lines: list[str]) -> list[TranscriptSegment]:
    segments: list[TranscriptSegment] = []
    for line in lines:
        match = _STM_LINE.match(line)
        assert match is not None
        _, _, speaker, start, end, rest = match.groups()
        rest = re.sub(r"^<[^>]*>\s*", "", rest)  # the label: <o,f0,male>
        if _STM_SKIPPED.search(speaker) or _STM_SKIPPED.search(rest):
            continue
        words = " ".join(_STM_MARKUP.sub(" ", rest).split())
        if words and float(end) > float(start):
            segments.append(TranscriptSegment(words, float(start), float(end), speaker))
    return segments


def _plain(lines: list[str]) -> list[TranscriptSegment]:
    segments: list[TranscriptSegment] = []
    for line in lines:
        speaker = None
        prefix = _SPEAKER_PREFIX.match(line)
        if prefix:
            speaker = prefix.group(1).strip("[] ")
            line = line[prefix.end() :]
        if line.strip():
            segments.append(TranscriptSegment(line.strip(), speaker=speaker))
    return segments
