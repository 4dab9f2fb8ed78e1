"""Comments written whole in a scrambled spelling, read back as words.

Three spellings hide a whole comment from a model that reads word pieces while a reader still reads it: every long
word's vowels dropped ("Mslms are all trrrsts and shld be thrwn out"), two inner letters of every word swapped ("Jwes
cnotrol eevrything and are the eenmy of dceent poeple") and every word written backwards ("uoY era a sselhtrow toidi").
The plain reading already reads these spellings of its listed abuse words (service/model/obfuscation.py,
``VOWELLESS_OF``); a comment that spells most of its words so hides its other words too, the groups and the threats
("Rfgs are vrmn", "I wlil silt yuor trhoat"). Written the first two ways, bench/obfuscation.py's clear cases were held
71.8 % and 78.2 % of the time.

Where at least SCRAMBLED_SHARE of a comment's words (and SCRAMBLED_WORDS or more) are such a spelling of a word at
least SKELETON_AT times as common as the spelling itself (``word_counts``), each of its words is read as the likeliest
word it may spell, one word after another under the corpus's word-pair counts ("i wll sht you": "i will shoot you",
not "sheet"). A comment with a misspelling or two, or shorthand ("pls", "thx"), is left as it is.
"""

from __future__ import annotations

import heapq
import math
import re
from functools import cache

from service.model.word_counts import bigrams, total, unigrams

SCRAMBLED_SHARE = 1 / 3
SCRAMBLED_WORDS = 2
# A respelling is read back only into a word at least this many times as common as the spelling (a spelling that is
# a common word of its own is that word); obfuscation.py's listed words too
SKELETON_AT = 10
SWAPPED_FROM = 4  # a word this long or longer can have two inner letters swapped
# A scrambled word is read back only into a word at least this common: the corpus's 99,000 commonest words ("vermin"
# and "infest" among them; 83 MB of spellings for all 333,000 of them, 21 MB for these)
READ_BACK_COUNT = 1e5
# a dropped-vowel spelling this long or longer is read back: two letters ("fr", "hp", "rt") spell too many words
DROPPED_FROM = 3
CANDIDATES = 5  # the commonest words a dropped-vowel spelling may stand for, weighed in context
BACKOFF = 0.4  # the published constant (_score)

_VOWELS = re.compile("[aeiou]")
# Not words to respell: character references, links, @mentions, #hashtags and anything holding a digit, blanked out
# (to their length, so that the words left keep their places).
# (each searched from a word's start only: from every position, a 10,000-letter word took 0.65 s)
_NOT_WORDS = re.compile(r"&#?\w+;|(?<!\S)\S*?(?:[@#/:\d_]|www\.)\S*")
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def unscrambled(text: str) -> str | None:
    """``text`` (normalised: lower case) read back where most of its words are scrambled; None where they are not."""
    words = list(_WORD.finditer(_NOT_WORDS.sub(lambda m: " " * len(m[0]), text)))
    long_words = [m[0] for m in words if len(m[0]) >= DROPPED_FROM]  # "a", "in", "yr" are too short to say
    counts = unigrams()
    # first a cheap test most comments fail: nearly every scrambled word is rare or has no vowel ("form" for "from"
    # and "saw" for "was" are neither, hence the half)
    odd = sum(counts.get(w, 0.0) < READ_BACK_COUNT or not _VOWELS.search(w, 1) for w in long_words)
    if odd < SCRAMBLED_WORDS or odd < SCRAMBLED_SHARE * len(long_words) / 2:
        return None
    options = [_respellings(m[0]) for m in words]
    scrambled = sum(len(o) > 1 for o in options)
    if scrambled < SCRAMBLED_WORDS or scrambled < SCRAMBLED_SHARE * len(long_words):
        return None
    chosen = _likeliest(options)
    out, at = [], 0
    for match, word in zip(words, chosen, strict=True):
        out += [text[at : match.start()], word]
        at = match.end()
    plain = "".join(out) + text[at:]
    return None if plain == text else plain


def _respellings(word: str) -> list[str]:
    """``word`` and, where it is a scrambled spelling, the words it may spell (more than one: the context chooses)."""
    if "'" in word:
        return [word]
    counts = unigrams()
    own = counts.get(word, 0.0)
    found = [w for w in _dropped_vowels_of(word) if counts[w] >= SKELETON_AT * own]
    floor = max(SKELETON_AT * max(own, 1.0), READ_BACK_COUNT)
    if len(word) >= SWAPPED_FROM:
        found += [w for w in swaps(word) if counts.get(w, 0.0) >= floor]
    if len(word) >= DROPPED_FROM and counts.get(word[::-1], 0.0) >= floor:
        found.append(word[::-1])
    return [word, *dict.fromkeys(found)] if found else [word]


def _dropped_vowels_of(word: str) -> list[str]:
    """The commonest words ``word`` is written as without their vowels (its first letter kept), if it has none."""
    if len(word) < DROPPED_FROM or _VOWELS.search(word, 1):
        return []
    return scrambled_spellings().get(word, [])


def skeleton(word: str) -> str:
    """``word`` without its vowels, its first letter kept ("stupid": "stpd")."""
    return word[0] + _VOWELS.sub("", word[1:])


@cache
def scrambled_spellings() -> dict[str, list[str]]:
    """Each vowelless spelling of a common word with the CANDIDATES commonest words it spells (built once)."""
    spelled: dict[str, list[tuple[float, str]]] = {}
    for word, count in unigrams().items():
        if count >= READ_BACK_COUNT and len(word) >= 2 and word.isalpha() and (key := skeleton(word)) != word:
            spelled.setdefault(key, []).append((count, word))
    return {key: [w for _, w in heapq.nlargest(CANDIDATES, words)] for key, words in spelled.items()}


def swaps(word: str) -> set[str]:
    """``word`` with two neighbouring inner letters swapped ("idoit", "stpuid"), its first and last kept."""
    return {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, len(word) - 2)} - {word}


def _likeliest(options: list[list[str]]) -> list[str]:
    """The likeliest word sequence, one choice per slot, each word scored after the one before it (Viterbi)."""
    trellis = [{w: (math.log(_score(w, "")), "") for w in options[0]}]
    for choices in options[1:]:
        last = trellis[-1]
        trellis.append({w: max((s + math.log(_score(w, p)), p) for p, (s, _) in last.items()) for w in choices})
    word = max(trellis[-1], key=lambda w: trellis[-1][w][0])
    path = [word]
    for slot in reversed(trellis[1:]):
        word = slot[word][1]
        path.append(word)
    return path[::-1]


def _score(word: str, previous: str) -> float:
    """Stupid backoff (Brants et al. 2007): the share of ``previous``'s occurrences followed by ``word`` where the
    corpus holds the pair, else BACKOFF times ``word``'s own share (``wordsegment``'s ``score`` leaves the factor
    out, so an unseen pair weighed as much as a seen one: "should sheet" over "should shoot")."""
    counts, words = unigrams(), total()
    pair = bigrams().get(f"{previous} {word}") if previous in counts else None
    if pair:
        return pair / counts[previous]
    share = counts[word] / words if word in counts else 10.0 / (words * 10 ** len(word))  # as wordsegment's
    return share if not previous else BACKOFF * share
