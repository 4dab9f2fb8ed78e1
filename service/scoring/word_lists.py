"""A site's word lists: suspect words send a comment to review, banned words reject it (as Coral's lists do), matched
so that the usual dodges do not work.

A comment and each listed word are read the same way first: Unicode NFKC (full-width and mathematical letters become
plain ones), case-folded, look-alike letters from other scripts (``ѕtuріd`` with Cyrillic letters) made the Latin
letters they look like (and fancy-text letters: small capitals, boxed letters), then anyascii (the rest of other
scripts spelled in Latin letters; accents go). Each letter of a listed word then also matches its usual stand-ins
(``1d10t``, ``@ss``) and repeats of itself (``idiooot``). A word matches as a whole word only, written either
without gaps or with a gap between every letter (``i d i o t``, ``i.d.i.o.t``): "class" does not contain "ass", and
"as sad" does not spell it either; ``idiot*`` also matches "idiots" and "idiotic". A phrase matches its words with
any gap between them. Text under a bidi override and upside-down text are also matched as they are displayed.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii

from service.model.obfuscation import as_displayed, lookalike_table
from service.scoring.normalise import normalise

MAX_WORDS = 5000  # per list
MAX_WORD_CHARS = 100

# Stand-ins people type for a letter (after the text is read as plain Latin letters and digits)
STAND_INS = {
    "a": "a4@",
    "b": "b8",
    "e": "e3",
    "g": "g9",
    "i": "i1!|",
    "l": "l1|",
    "o": "o0",
    "s": "s5$",
    "t": "t7+",
    "z": "z2",
}
GAP = r"[\W_]+"  # between spaced-out letters, or the words of a phrase


def read(text: str) -> str:
    """Text as the lists are matched against it: plain Latin letters, case-folded. Letters that look Latin become
    the letter they look like (Unicode's confusables: Cyrillic "р" is "p"), before anyascii spells the rest by sound
    (where Cyrillic "р" would be "r", and "ѕtuріd" would never match "stupid")."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(lookalike_table())
    return anyascii(folded).casefold()


@lru_cache(maxsize=64)
def readings(text: str) -> tuple[str, ...]:
    """The text read as written and as a reader sees it (an override's words, "kiII", upside down), each once. Kept
    for the next call: a policy with suspect and banned words matches both lists against one comment."""
    shown = as_displayed(normalise(text).text)
    return tuple(dict.fromkeys((read(text), read(shown))))


def _letter(char: str) -> str:
    return "[" + re.escape(STAND_INS.get(char, char)) + "]+"


def _word(word: str) -> str:
    letters = [c for c in word if c.isalnum()]
    if not letters:
        return ""
    rest = r"[^\W_]*" if word.endswith("*") else ""  # "idiot*": idiots, idiotic too
    solid = "".join(_letter(c) for c in letters) + rest
    spaced = GAP.join(_letter(c) for c in letters) + rest
    return solid if len(letters) == 1 else f"(?:{solid}|{spaced})"


def _phrase(entry: str) -> str:
    parts = [p for p in (_word(w) for w in read(entry).split()) if p]
    return GAP.join(parts)


class WordList:
    """Compiled once per policy version; ``find`` names the listed entries a text contains."""

    def __init__(self, entries: list[str]) -> None:
        self.entries = [e.strip() for e in entries if e.strip()]
        self._patterns = [(e, p) for e in self.entries if (p := _phrase(e))]
        if self._patterns:
            alternatives = "|".join(f"(?P<w{i}>{p})" for i, (_, p) in enumerate(self._patterns))
            self._regex: re.Pattern[str] | None = re.compile(rf"(?<![^\W_])(?:{alternatives})(?![^\W_])")
        else:
            self._regex = None

    def __bool__(self) -> bool:
        return self._regex is not None

    def find(self, text: str) -> list[str]:
        """The listed entries the text contains, in list order, each once."""
        if self._regex is None:
            return []
        found: set[int] = set()
        for reading in readings(text):
            for match in self._regex.finditer(reading):
                found.update(int(name[1:]) for name, value in match.groupdict().items() if value is not None)
        return [self._patterns[i][0] for i in sorted(found)]


@lru_cache(maxsize=256)
def compiled(entries: tuple[str, ...]) -> WordList:
    """One compiled list per distinct list (every replica compiles a saved policy's lists once)."""
    return WordList(list(entries))
