"""How common English words and word pairs are, from the Google web corpus counts the ``wordsegment`` package ships:
what the plain reading (service/model/obfuscation.py, service/model/scrambled.py) weighs a respelling against."""

from __future__ import annotations

from functools import cache
from typing import Any, cast


@cache
def segmenter() -> Any:
    """Word segmentation by unigram counts. Its bigrams, which cost twice as much to load, are left out: of the 239
    long runs in bench/obfuscation.py's spaced-out clear cases they cut one otherwise ("brain dead" for
    "braindead")."""
    import wordsegment

    words = wordsegment.Segmenter()
    words.unigrams.update(words.parse(words.UNIGRAMS_FILENAME))
    words.total, words.limit = words.TOTAL, words.LIMIT
    return words


def unigrams() -> dict[str, float]:
    """Each word's count (333,000 words)."""
    return cast(dict[str, float], segmenter().unigrams)


def total() -> float:
    """How many words the corpus counted."""
    return float(segmenter().total)


@cache
def run_segmenter() -> Any:
    """``segmenter``'s unigrams with the bigrams too, for words run together ("are a burden", not "area burden") and
    for scoring a word after the one before it (``score(word, previous)``)."""
    import wordsegment

    words = segmenter()
    paired = wordsegment.Segmenter()
    paired.unigrams, paired.bigrams = words.unigrams, bigrams()
    paired.total, paired.limit = words.total, words.limit
    return paired


@cache
def bigrams() -> dict[str, float]:
    """Word pairs' counts (258,000 pairs, 0.1 s to read), read only where a rule needs them."""
    words = segmenter()
    return cast(dict[str, float], words.parse(words.BIGRAMS_FILENAME))
