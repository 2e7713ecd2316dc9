"""Split long text into sentences, so speech can be made (and rendered) one piece at a time.

A sentence ends at ``.``, ``!``, ``?``, ``…`` (or a run of them) followed by space and a
word that does not start in lower case, at CJK full stops (``。！？``) and at blank lines.
Abbreviations (``Mr.``, ``e.g.``), initials (``J. R. R.``) and numbers (``3.14``) do not
end sentences. A sentence longer than ``max_chars`` is cut at the clause mark (``, ; : —``)
nearest its middle, else at a space, so no piece is too long to synthesize in one call.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

DEFAULT_MAX_SENTENCE_CHARS = 400

_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof sr jr st mt vs etc eg ie cf al fig figs no nos vol vols pp ch sec "
    "approx dept est inc ltd co corp jan feb mar apr jun jul aug sep sept oct nov dec "
    "mon tue wed thu fri sat sun gen col lt sgt capt rev hon ave blvd rd"
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_CLOSERS = "\"'”’»)]}"
# The end of a sentence: terminal punctuation, closing quotes or brackets, then space.
_END = re.compile(r"([.!?…]+|[。！？]+)([" + re.escape(_CLOSERS) + r"]*)(\s*)")
_CJK_END = "。！？"
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n\s*")
_CLAUSE = re.compile(r"[,;:—–]\s+|\s+[—–]\s+|[，；：、]")


def normalize_text(text: str) -> str:
    """Text as the synthesizer should see it: no control characters, single spaces.

    Blank lines (paragraph breaks) are kept, as they end sentences.
    """
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(c if c in "\n\t" or unicodedata.category(c)[0] != "C" else " " for c in text)
    paragraphs = (re.sub(r"\s+", " ", p).strip() for p in _BLANK_LINE.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def iter_sentences(text: str, *, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> Iterator[str]:
    """Sentences of ``text`` in order, each at most ``max_chars`` characters, none empty."""
    if max_chars < 20:
        raise ValueError("max_chars must be at least 20")
    for paragraph in normalize_text(text).split("\n\n"):
        for sentence in _paragraph_sentences(paragraph):
            yield from _cut_long(sentence, max_chars)


def split_sentences(text: str, *, max_chars: int = DEFAULT_MAX_SENTENCE_CHARS) -> list[str]:
    """``iter_sentences`` as a list."""
    return list(iter_sentences(text, max_chars=max_chars))


def _paragraph_sentences(paragraph: str) -> Iterator[str]:
    start = 0
    for match in _END.finditer(paragraph):
        end = match.end()
        if end >= len(paragraph):
            break
        if not _ends_sentence(paragraph, match):
            continue
        sentence = paragraph[start:end].strip()
        if sentence:
            yield sentence
        start = end
    rest = paragraph[start:].strip()
    if rest:
        yield rest


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    marks = match.group(1)
    if marks[-1] in _CJK_END:
        return True
    if not match.group(3):  # "3.14", "e.g.x": no space after the mark
        return False
    following = text[match.end() : match.end() + 1]
    if following.islower():  # "... and so on" / "etc. and"
        return False
    if marks == ".":
        word = re.search(r"([\w.]+)$", text[: match.start()])
        if word:
            token = word.group(1).lower()
            if token.replace(".", "") in _ABBREVIATIONS:
                return False
            if len(token) == 1 and token.isalpha():  # an initial: "J. Smith"
                return False
    return True


def _cut_long(sentence: str, max_chars: int) -> Iterator[str]:
    while len(sentence) > max_chars:
        cut = _cut_point(sentence, max_chars)
        head, sentence = sentence[:cut].strip(), sentence[cut:].strip()
        if head:
            yield head
    if sentence:
        yield sentence


def _cut_point(sentence: str, max_chars: int) -> int:
    """Where to cut: after the clause mark nearest the middle, else at a space, else hard."""
    window = sentence[: max_chars + 1]
    middle = min(len(sentence) // 2, max_chars)
    clauses = [m.end() for m in _CLAUSE.finditer(window) if m.end() >= max_chars // 4]
    if clauses:
        return min(clauses, key=lambda position: abs(position - middle))
    spaces = [m.start() for m in re.finditer(r"\s", window) if m.start() >= max_chars // 4]
    if spaces:
        return min(spaces, key=lambda position: abs(position - middle))
    return max_chars


__all__ = [
    "DEFAULT_MAX_SENTENCE_CHARS",
    "iter_sentences",
    "normalize_text",
    "split_sentences",
]
