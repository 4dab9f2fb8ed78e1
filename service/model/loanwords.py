"""Abuse borrowed from another language inside an English comment, read in English.

A comment in another language goes to review (service/scoring/language.py). One that is English but for its insult
is read as English, and the model, trained on English, does not know the insult: "The author is a hijo de puta."
scored toxicity 0.04, "Vaffanculo, editor." 0.09, "This article is scheisse." 0.28, all allowed, where Perspective
reads every language. Readers of English comment sections know these words; attackers use them because filters do
not. Each listed word or phrase is read as its English sense, as one more reading of the comment
(service/model/obfuscation.py's ``plain_reading``; the worst reading counts), so the comment's own reading is never
lost.

The list keeps to insults, slurs and obscenities with no common innocent use in English text: not "suka" (Malay and
Indonesian "like"), "randi" (a name), "porra", "coño" or "tanga". Accents are optional ("cabrón", "cabron").
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

GLOSSES: dict[str, str] = {
    # Spanish
    "hijo de puta": "son of a bitch", "hijos de puta": "sons of bitches", "puta": "whore", "putas": "whores",
    "pendejo": "dumbass", "pendeja": "dumbass", "pendejos": "dumbasses", "cabron": "bastard", "cabrona": "bitch",
    "cabrones": "bastards", "mierda": "shit", "gilipollas": "dickhead", "maricon": "faggot", "culero": "asshole",
    "chinga tu madre": "fuck your mother", "vete a la mierda": "fuck off", "pinche": "fucking",
    "imbecil": "imbecile", "estupido": "stupid", "estupida": "stupid",
    # Portuguese
    "filho da puta": "son of a bitch", "caralho": "fuck", "viado": "faggot", "vai tomar no cu": "fuck you",
    "merda": "shit", "otario": "sucker",
    # French
    "fils de pute": "son of a bitch", "connard": "asshole", "connasse": "bitch", "salope": "slut", "putain": "fuck",
    "merde": "shit", "encule": "fucker", "ta gueule": "shut your mouth", "nique ta mere": "fuck your mother",
    "batard": "bastard", "abruti": "moron",
    # German (normalising case-folds "ß" to "ss")
    "arschloch": "asshole", "scheisse": "shit", "hurensohn": "son of a bitch", "fotze": "cunt", "wichser": "wanker",
    "schlampe": "slut", "halt die fresse": "shut your face", "fick dich": "fuck you", "vollidiot": "complete idiot",
    "schwuchtel": "faggot", "spast": "retard",
    # Italian
    "vaffanculo": "fuck you", "fanculo": "fuck you", "stronzo": "asshole", "stronza": "bitch",
    "figlio di puttana": "son of a bitch", "puttana": "whore", "cazzo": "dick", "coglione": "dickhead",
    "testa di cazzo": "dickhead", "frocio": "faggot",
    # Russian and Polish, as written in Latin letters (Cyrillic that looks Latin, "сука", is made Latin first)
    "cyka blyat": "fucking bitch", "suka blyat": "fucking bitch", "blyat": "fuck", "blyad": "fuck",
    "pidor": "faggot", "pidoras": "faggot", "mudak": "asshole", "nahui": "fuck off", "nahuy": "fuck off",
    "kurwa": "fuck", "spierdalaj": "fuck off", "chuj": "dick", "skurwysyn": "son of a bitch",
    # Hindi and Urdu, Tagalog
    "madarchod": "motherfucker", "behenchod": "sisterfucker", "bhenchod": "sisterfucker", "benchod": "sisterfucker",
    "chutiya": "fucker", "bhosdike": "motherfucker", "gandu": "asshole", "harami": "bastard",
    "putang ina": "son of a bitch", "putangina": "son of a bitch", "gago": "idiot",
}  # fmt: skip


def unaccented(text: str) -> str:
    """``text`` with each accented Latin letter written as its base letter, one character for one (so a match's
    place in the result is its place in ``text``)."""
    return text.translate(_base_letters())


@cache
def _base_letters() -> dict[int, str]:
    table = {}
    for point in range(0xC0, 0x250):
        base = unicodedata.normalize("NFD", chr(point))[0]
        if base != chr(point) and base.isascii():
            table[point] = base
    return table


# Longest first, so "hijo de puta" is read whole before "puta"; a phrase's words may be apart by any spaces.
PATTERN = re.compile(
    r"(?<![\w'])(?:"
    + "|".join(r"\s+".join(map(re.escape, k.split())) for k in sorted(GLOSSES, key=len, reverse=True))
    + r")(?![\w'])"
)


def glossed(text: str) -> str:
    """Normalised ``text`` with each listed word read as its English sense; ``text`` itself when none is there."""
    plain = unaccented(text)
    if not PATTERN.search(plain):
        return text
    out, at = [], 0
    for match in PATTERN.finditer(plain):
        out += [text[at : match.start()], GLOSSES[" ".join(match[0].split())]]
        at = match.end()
    return "".join(out) + text[at:]
