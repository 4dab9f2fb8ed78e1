"""Which language a comment is in, so a comment the model cannot read is never silently allowed.

The model is English-only (see the model card). Detection is py3langid (its model ships in the wheel; ~60 µs a
comment here), restricted to the languages comment sections mostly see: on short texts a detector that may answer
any of 97 languages calls "ok" Serbian. A comment counts as in another language only when the detector is
confident enough (CONFIDENT); anything else is read as English, the language the model was trained on.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache

SUPPORTED: tuple[str, ...] = ("en",)  # what the model was trained and evaluated on
CANDIDATES = (
    "en", "es", "de", "fr", "pt", "it", "nl", "pl", "ru", "tr", "sv", "da", "no", "fi", "cs", "ro", "hu", "el",
    "uk", "ar", "he", "hi", "ja", "ko", "zh", "id", "vi", "ca",
)  # fmt: skip
# Below this a detection is not acted on. Chosen with bench/languages.py (bench/RESULTS.md): at 0.3, 95.4 % of short
# en/es/de/fr/pt/it texts are placed right and 0.6 % of real English comments are taken for another language (sent
# to review); 0.8 placed 81 %, 0.0 misread 3.1 % of English comments.
CONFIDENT = 0.3
# Up to four words say little about their language: "Ur weird." read as German at 0.51 and "What utter nonsense." as
# Norwegian at 0.36, but English still had 0.26 and 0.23 of the probability, where a short insult in another
# language leaves English almost none ("Eres un idiota.": Spanish 0.37, English 0.017). A short text counts as
# another language only when English has under SHORT_ENGLISH_MAX. Chosen with bench/languages.py (bench/RESULTS.md).
SHORT_WORDS = 4
SHORT_ENGLISH_MAX = 0.05
# A sentence in another language inside an English comment: "Great article. Ich werde dich umbringen du Hurensohn.
# Thanks for sharing." read as English (0.64) and scored toxicity 0.01. Each sentence of four words or more of a
# comment read as English is also classified, and one the detector gives another language at PASSAGE_CONFIDENT or
# more, leaving English under SHORT_ENGLISH_MAX, makes the comment that language. Chosen with bench/languages.py
# (bench/RESULTS.md): such a sentence between two real English comments is caught 86 % of the time (1 % by the whole
# text alone); real English comments read as another language: 8 of 3,000 short ones (4 without the rule; of the four
# more, one is in part Korean), 8 of 5,000 of any length. At five words or a confidence of 0.7, 72 % and 81 % were
# caught.
PASSAGE_MIN_WORDS = 4
PASSAGE_CONFIDENT = 0.5
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+|\n+")
# Mentions, links and the placeholders data sets put in their place are no language's words.
NOT_WORDS = re.compile(r"@\w+|https?://\S+|www\.\S+|\bURL\b|#")


@dataclass(frozen=True)
class Language:
    code: str  # ISO 639-1
    confidence: float
    supported: bool


_lock = threading.Lock()  # the identifier keeps per-call state


@cache
def _identifier() -> object:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(CANDIDATES))
    return identifier


# Texts repeat (a cached result is a repeated text), so detections are remembered, by the text's digest (no text is
# kept): detection took ~10 % of a cache hit's CPU (bench/profile_paths.py).
MEMO_SIZE = 4096


class _Memo:
    def __init__(self) -> None:
        self.answers: OrderedDict[bytes, Language] = OrderedDict()
        self.lock = threading.Lock()

    def detect(self, text: str) -> Language:
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self.lock:
            if key in self.answers:
                self.answers.move_to_end(key)
                return self.answers[key]
        answer = _detect(text)
        with self.lock:
            self.answers[key] = answer
            if len(self.answers) > MEMO_SIZE:
                self.answers.popitem(last=False)
        return answer


_memo = _Memo()


def detect(text: str) -> Language:
    """The comment's language; English unless the detector is confident it is another."""
    return _memo.detect(text)


def _detect(text: str) -> Language:
    words = NOT_WORDS.sub(" ", text)
    if not any(c.isalpha() for c in words):
        return Language("en", 1.0, True)
    with _lock:
        code, confidence = _identifier().classify(words)  # type: ignore[attr-defined]
        short_other = code != "en" and confidence >= CONFIDENT and len(words.split()) <= SHORT_WORDS
        # the full ranking costs more than a classification: only for the few short texts read as another language
        english = dict(_identifier().rank(words)).get("en", 0.0) if short_other else 0.0  # type: ignore[attr-defined]
    if code != "en" and (confidence < CONFIDENT or english >= SHORT_ENGLISH_MAX):
        return _foreign_passage(words) or Language("en", round(max(float(english), 1 - float(confidence)), 4), True)
    whole = Language(str(code), round(float(confidence), 4), code in SUPPORTED)
    return (_foreign_passage(words) or whole) if whole.supported else whole


def _foreign_passage(words: str) -> Language | None:
    """The language of the first sentence of an English-read text that is confidently another one, if any."""
    sentences = [s for s in _SENTENCE_BREAK.split(words) if len(s.split()) >= PASSAGE_MIN_WORDS]
    if len(sentences) < 2:
        return None  # one sentence is the whole text, already read
    with _lock:
        for sentence in sentences:
            code, confidence = _identifier().classify(sentence)  # type: ignore[attr-defined]
            if code == "en" or confidence < PASSAGE_CONFIDENT:
                continue
            if dict(_identifier().rank(sentence)).get("en", 0.0) < SHORT_ENGLISH_MAX:  # type: ignore[attr-defined]
                return Language(str(code), round(float(confidence), 4), code in SUPPORTED)
    return None


def primary(code: str) -> str:
    """A BCP-47 tag's language ("en-US" -> "en")."""
    return code.split("-", 1)[0].split("_", 1)[0].lower()
