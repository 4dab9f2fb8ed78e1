"""Text normalisation for the cache key and the model, with a map back to the caller's character offsets.

Normalising is NFKC (folds look-alike letters such as 𝐢𝐝𝐢𝐨𝐭), case folding and whitespace collapsing (characters that
show as a blank count as whitespace). The model reads the normalised text, so identical comments typed differently
share one cache entry; spans found in the normalised text are mapped back to each caller's own text.

One letter keeps its case: a capital I inside a lower-case word ("kiII", "MusIim") or opening one in mid-sentence
("you Ioser"), which in most fonts is an l, and which the plain reading (service/model/obfuscation.py) reads as
one. The model's tokenizer lower-cases, so the comment's own reading does not change.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

# A word whose capitals, but for a first one, are I's after a lower-case letter: "kiII", "aIways", "fooI", "MusIims";
# not "IKEA", "III" or "I". Names and missing spaces match too ("McIntosh", "andI": 8 of 8,787 real comments), which
# costs them one more reading, nothing else. Also a capital I opening a lower-case word in mid-sentence ("you Ioser",
# "a Iiar"), which the plain reading reads as an l only where that makes a far commoner word ("Iran" stays).
_CAPITAL_I_FOR_L = re.compile(r"\b(?:[a-z]|[A-HJ-Z](?=[a-z]))[a-z]*I[a-zI]*\b|(?<=[a-z,] )I(?=[a-z]{2,}\b)")
# Characters that show as a blank though Unicode does not call them whitespace: the Hangul fillers and the braille
# blank. Written between words they hid "you are a worthless idiot" as one unknown word (toxicity 0.07, allowed), and
# alone they made a comment that shows nothing. They are read as spaces.
BLANK = frozenset("\u115f\u1160\u3164\uffa0\u2800")


@dataclass(frozen=True)
class Normalised:
    text: str
    # origin[i]: index in the raw text of the character that produced normalised character i
    origin: tuple[int, ...]

    def to_raw(self, start: int, end: int) -> tuple[int, int]:
        """A normalised [start, end) range as a range of the raw text."""
        if not self.origin or start >= end:
            return 0, 0
        return self.origin[start], self.origin[min(end, len(self.origin)) - 1] + 1


def normalise(raw: str) -> Normalised:
    chars: list[str] = []
    origin: list[int] = []
    pending_space = False
    kept = (
        {m.start() + j for m in _CAPITAL_I_FOR_L.finditer(raw) for j, c in enumerate(m[0]) if c == "I"}
        if "I" in raw
        else ()
    )
    for i, ch in enumerate(raw):
        if ch.isspace() or ch in BLANK:
            pending_space = bool(chars)
            continue
        folded = "I" if i in kept else unicodedata.normalize("NFKC", ch).casefold()
        if pending_space:
            chars.append(" ")
            origin.append(i - 1)
            pending_space = False
        for out in folded:
            chars.append(out)
            origin.append(i)
    return Normalised("".join(chars), tuple(origin))


def digest(model_version: str, text: str, article_id: str | None) -> str:
    """Cache key digest of (model version, normalised text, article id)."""
    h = hashlib.sha256()
    for part in (model_version, article_id or "", text):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def text_digest(text: str) -> str:
    """Digest of a normalised text alone (flood counting across articles)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def text_problem(text: str) -> tuple[str, str] | None:
    """Why a comment's text cannot be scored, as (code, message), or None when it can.

    Text with nothing visible (whitespace, blanks, zero-width and other format characters only) is empty; a lone UTF-16
    surrogate (JSON's "\\ud800") is not Unicode text at all and could be neither hashed nor stored. A text longer
    than the model reads is not a problem here: it is scored on its opening and held for review (the scorer).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return "invalid_text", f"text is not valid Unicode (a lone surrogate at character {exc.start})"
    if not any(unicodedata.category(c)[0] not in "ZC" and c not in BLANK for c in text):
        return "empty_text", "text is empty or only whitespace"
    return None
