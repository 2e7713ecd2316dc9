"""Recognition guided by a transcript: a language model built at run time from its words.

Where a transcript does not fit the speech word for word (words left out, added, reordered,
another speaker's turn), the decoder searches only the transcript's words, likeliest in the
transcript's order, plus one "word" per phone for speech it has no words for. The model and
a dictionary of just those words are written to a temporary folder: a decoder over a few
hundred words is built in ~0.03 s, where adding a model to the full 134k-word decoder takes
~17 s.
"""

from __future__ import annotations

import math
import tempfile
from collections import Counter
from itertools import pairwise
from pathlib import Path

from pocketsphinx import Decoder

from headcast.audio.clip import Audio
from headcast.phones import sphinx
from headcast.phones.align import pronunciations
from headcast.phones.phoneset import PHONES

PHONE_WORD_PREFIX = "_"  # "_m": a phone said outside the transcript's words
# log10 probabilities of the model: the transcript's next word, any of its words, one phone.
NEXT_WORD_LOG10 = -0.2
ANY_WORD_MASS = 0.9  # shared by the transcript's words
PHONE_WORD_LOG10 = -1.5
BACKOFF_LOG10 = -0.5
LANGUAGE_WEIGHT = 6.5  # the en-us model's own

_PHONE_WORDS = {f"{PHONE_WORD_PREFIX}{phone.lower()}": phone for phone in sorted(PHONES)}


def is_phone_word(word: str) -> bool:
    return word.startswith(PHONE_WORD_PREFIX)


def phone_words() -> dict[str, str]:
    """The phone "words" guided recognition may hear, with their one-phone pronunciations."""
    return dict(_PHONE_WORDS)


def transcript_model(words: list[str]) -> str:
    """An ARPA bigram model of ``words``: each followed by the next likeliest, any of them
    anywhere, and single phones unlikely but possible."""
    vocabulary = sorted(set(words))
    follows = Counter(pairwise(["<s>", *words, "</s>"]))
    any_word = math.log10(ANY_WORD_MASS / (len(vocabulary) + 1))
    unigrams = [f"-99 <s> {BACKOFF_LOG10}", f"{any_word:.4f} </s> 0"]
    unigrams += [f"{any_word:.4f} {word} {BACKOFF_LOG10}" for word in vocabulary]
    unigrams += [f"{PHONE_WORD_LOG10:.4f} {word} {BACKOFF_LOG10}" for word in _PHONE_WORDS]
    bigrams = [f"{NEXT_WORD_LOG10} {a} {b}" for a, b in follows]
    header = ["\\data\\", f"ngram 1={len(unigrams)}", f"ngram 2={len(bigrams)}", ""]
    return "\n".join(
        [*header, "\\1-grams:", *unigrams, "", "\\2-grams:", *bigrams, "", "\\end\\", ""]
    )


def guided_decoder(words: list[str]) -> Decoder:
    """A decoder that hears ``words`` (as ``transcript_words`` gives them; unknown words get
    a guessed pronunciation) and phone words, likeliest in the order of ``words``."""
    known = pronunciations(words)
    with tempfile.TemporaryDirectory(prefix="headcast-guided-") as folder:
        dictionary = Path(folder) / "words.dict"
        model = Path(folder) / "words.lm"
        entries = {**known, **_PHONE_WORDS}
        dictionary.write_text("".join(f"{w} {p}\n" for w, p in entries.items()))
        model.write_text(transcript_model([w for w in words if w in known]))
        # Both files are read here, once.
        return Decoder(
            dict=str(dictionary), lm=str(model), lw=LANGUAGE_WEIGHT, bestpath=False,
            loglevel="FATAL",
        )  # fmt: skip


def guided_words(decoder: Decoder, audio: Audio) -> list[sphinx.Span]:
    """The words ``decoder`` (a ``guided_decoder``) hears in 16 kHz mono speech, with their
    times on its timeline; silences and fillers left out. Speech is best given a phrase at a
    time: the decoder's memory grows with the length decoded at once."""
    utterance = sphinx.utterance(audio)
    if not utterance.pcm:
        return []
    sphinx.decode(decoder, utterance.pcm)
    said = [(s.word, s.start_frame, s.end_frame + 1) for s in decoder.seg() or ()]
    rate = sphinx.FRAMES_PER_S
    spans: list[sphinx.Span] = []
    for word, start, end in said:
        if word.startswith(("<", "[")):
            continue
        pieces = utterance.original_spans([(word, start / rate, end / rate, 1.0)])
        if pieces:
            spans.append((word, pieces[0][1], pieces[-1][2], 1.0))
    return spans
