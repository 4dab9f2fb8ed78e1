"""Does obfuscated abuse get through? The plain reading (service/model/obfuscation.py), measured with and without.

The attacks are made from the hand-written clear cases (service/training/clear_cases.py: 110 insults, identity attacks,
threats and severe abuse), each word of four letters or more rewritten: **look-alikes** (Latin a, c, e, i, o, p, y
replaced by their Cyrillic twins), **leet** (inner o, i, e, a, s as 0, 1, 3, 4, 5), **spelled** (its letters joined by
"-"), **cut by one -** (a hyphen in its middle, "id-iot"), **spaced out** (its letters joined by spaces), **drawn out**
(its first vowel written five times), **vowels dropped** (the vowels after its first letter left out, "stpd"), **small
capitals** ("ɪᴅɪᴏᴛ"), **faux Cyrillic** (every letter of the comment as a text generator draws it from Greek and
Cyrillic letters and symbols, "ι∂ισт"), **boxed letters** (negative squared capitals, "🅸🅳🅸🅾🆃"), **zero-width inside
words** (U+200B between its letters), **character references** (each letter as "&#105;", which a page showing comments
as HTML displays as the letter), **capital I for l** (each l after a word's first letter written "I"; words without an l
stay as written), **Markdown emphasis** ("**idiot**", which a page rendering Markdown shows as the word), **inner
letters swapped** (its second and third, "iidot"), **words reversed** ("toidi"), **HTML markup** (its inside in bold,
"id<b>io</b>t", which a page rendering HTML shows as the word), **BBCode** (the same, "id[b]io[/b]t"), **letters drawn
in strokes** (inner o, a, m, w and u as "()", "/\\", "|\\/|", "\\/\\/", "|_|"), and five made of the whole comment:
**upside down** (letters turned over, written backwards), **bidi override** (stored backwards after U+202E, which a
browser shows the right way round), **words joined by 👏** (no spaces, a symbol between words), **words run together**
(no spaces at all) and **blanks for spaces** (Hangul fillers, which normalising reads as spaces, so both columns read
them plainly). Each set is scored by the shipped model with its calibration, without the plain reading and with it: the
share the built-in policy does not allow (review or reject; the language check, which the service adds and which may
also hold some of these, is left out) and the share a Perspective-era ``TOXICITY >= 0.8`` rule holds. What it costs, on
real comments (UCC's Globe and Mail comments and ARC's posts, 8,787): the share read twice, how many the policy holds
with and without, and the model's seconds for them, side by side; and the plain reading's own seconds for comments as
long as one may be, written to make it work hardest (``LONGEST``).

    python -m bench.obfuscation --data ../shared/data

Writes bench/results/obfuscation.json.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import print_table, write_result
from service.config import DEFAULT_MODEL_DIR, Settings
from service.contract import Decision
from service.model import predict
from service.model.calibration import Calibration
from service.model.obfuscation import plain_reading
from service.model.predict import Predictor
from service.scoring.language import detect
from service.scoring.normalise import normalise
from service.scoring.policy import Policy
from service.training.clear_cases import CLEAR_CASES

CYRILLIC = str.maketrans("aceiopy", "асеіору")
LEET = str.maketrans("oieas", "01345")
LONG_WORD = re.compile(r"[A-Za-z]{4,}")


def lookalikes(text: str) -> str:
    return LONG_WORD.sub(lambda m: m[0].translate(CYRILLIC), text)


def leet(text: str) -> str:
    return LONG_WORD.sub(lambda m: m[0][0] + m[0][1:-1].translate(LEET) + m[0][-1], text)


def spelled(text: str) -> str:
    return LONG_WORD.sub(lambda m: "-".join(m[0]), text)


def cut(text: str) -> str:
    """One hyphen in the middle of the word ("id-iot")."""
    return LONG_WORD.sub(lambda m: m[0][: len(m[0]) // 2] + "-" + m[0][len(m[0]) // 2 :], text)


def spaced(text: str) -> str:
    return LONG_WORD.sub(lambda m: " ".join(m[0]), text)


SMALL_CAPITALS = str.maketrans("abcdefghijklmnopqrstuvwyz", "ᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘǫʀꜱᴛᴜᴠᴡʏᴢ")
BOXED = str.maketrans({chr(ord("a") + i): chr(0x1F170 + i) for i in range(26)})  # 🅰 ... 🆉
TURNED = str.maketrans("abcdefghijklmnopqrtuvwy.", "ɐqɔpǝɟƃɥᴉɾʞlɯuodbɹʇnʌʍʎ˙")


DRAWN_VOWEL = re.compile(r"[aeiou]")


def drawn_out(text: str) -> str:
    """The word's first vowel drawn out to five letters ("iiiiidiot", "stuuuuupid")."""
    return LONG_WORD.sub(lambda m: DRAWN_VOWEL.sub(lambda v: v[0] * 5, m[0], count=1), text)


def vowels_dropped(text: str) -> str:
    """The vowels after the word's first letter left out ("stpd", "mrn")."""
    return LONG_WORD.sub(lambda m: m[0][0] + DRAWN_VOWEL.sub("", m[0][1:]), text)


FAUX_CYRILLIC = str.maketrans("abcdefghijklmnopqrstuvwxyz", "αв¢∂єƒgнιנкℓмиσρqяѕтυνωχуz")


def faux_cyrillic(text: str) -> str:
    """Every letter of the comment as a "faux Cyrillic" text generator writes it (Greek and Cyrillic letters and
    symbols chosen for their shape: "уσυ αяє αи ι∂ισт")."""
    return text.lower().translate(FAUX_CYRILLIC)


def small_capitals(text: str) -> str:
    return LONG_WORD.sub(lambda m: m[0].lower().translate(SMALL_CAPITALS), text)


def boxed(text: str) -> str:
    return LONG_WORD.sub(lambda m: m[0].lower().translate(BOXED), text)


def zero_width(text: str) -> str:
    return LONG_WORD.sub(lambda m: "\u200b".join(m[0]), text)


def references(text: str) -> str:
    return LONG_WORD.sub(lambda m: "".join(f"&#{ord(c)};" for c in m[0]), text)


def capital_i(text: str) -> str:
    """Each l after a word's first letter written as a capital I, which most fonts draw the same ("kiII")."""
    return LONG_WORD.sub(lambda m: m[0][0] + m[0][1:].replace("l", "I"), text)


def upside_down(text: str) -> str:
    return text.lower().translate(TURNED)[::-1]


def joined(text: str) -> str:
    """Words joined by a symbol instead of spaces ("You👏are👏an👏idiot"): one unknown word to the tokenizer."""
    return "\U0001f44f".join(text.split(" "))


def blanks(text: str) -> str:
    """Spaces written as Hangul fillers, which show as blanks (normalising reads them as spaces)."""
    return text.replace(" ", "\u3164")


def emphasis(text: str) -> str:
    """Each long word in Markdown bold ("**idiot**"), which a page that renders Markdown shows as the word."""
    return LONG_WORD.sub(lambda m: f"**{m[0]}**", text)


def strokes(text: str) -> str:
    """An inner o, a, m, w or u drawn in ASCII strokes ("cl()wn", "br/\\inless", "|\\/|oron")."""
    drawn = {"o": "()", "a": "/\\", "m": "|\\/|", "w": "\\/\\/", "u": "|_|"}
    return LONG_WORD.sub(lambda m: m[0][0] + "".join(drawn.get(c, c) for c in m[0][1:-1]) + m[0][-1], text)


def swapped(text: str) -> str:
    """The second and third letters of each long word swapped ("atuhor", "iidot"), as a reader reads at a glance."""
    return LONG_WORD.sub(lambda m: m[0][0] + m[0][2] + m[0][1] + m[0][3:], text)


def markup(text: str) -> str:
    """The inside of each word in bold, as a page rendering HTML shows it ("id<b>io</b>t")."""
    return LONG_WORD.sub(lambda m: f"{m[0][:2]}<b>{m[0][2:-1]}</b>{m[0][-1]}", text)


def bbcode(text: str) -> str:
    """The same in BBCode, which forums render ("id[b]io[/b]t")."""
    return LONG_WORD.sub(lambda m: f"{m[0][:2]}[b]{m[0][2:-1]}[/b]{m[0][-1]}", text)


def reversed_words(text: str) -> str:
    return LONG_WORD.sub(lambda m: m[0][::-1], text)


def run_together(text: str) -> str:
    """The whole comment with no spaces ("Theauthorisabrainlessclown.")."""
    return text.replace(" ", "")


def bidi_override(text: str) -> str:
    """Stored backwards behind a right-to-left override: a browser shows it as written."""
    return "\u202e" + text[::-1]


ATTACKS: dict[str, Callable[[str], str]] = {
    "clear cases as written": lambda t: t,
    "look-alike letters": lookalikes,
    "leet": leet,
    "spelled with -": spelled,
    "cut by one -": cut,
    "spaced out": spaced,
    "drawn out": drawn_out,
    "vowels dropped": vowels_dropped,
    "small capitals": small_capitals,
    "faux Cyrillic": faux_cyrillic,
    "boxed letters": boxed,
    "zero-width inside words": zero_width,
    "character references": references,
    "capital I for l": capital_i,
    "upside down": upside_down,
    "bidi override": bidi_override,
    "words joined by 👏": joined,
    "blanks for spaces": blanks,
    "Markdown emphasis": emphasis,
    "letters drawn in strokes": strokes,
    "words run together": run_together,
    "inner letters swapped": swapped,
    "words reversed": reversed_words,
    "HTML markup": markup,
    "BBCode": bbcode,
}


# English comments whose insult is borrowed from another language (service/model/loanwords.py), written for this
# bench. A comment the language check takes for another language is held anyway; these are read as English or not
# (printed below), and the rows are the model's reading of them.
BORROWED = (
    "The author is a hijo de puta.", "Shut up, pendejo, nobody asked you.", "What a cabrón this mayor is.",
    "This whole article is mierda.", "Vaffanculo, editor.", "The councillor is a total stronzo.",
    "You are a coglione if you believe this.", "Typical connard move from the reporter.", "Putain, what a stupid take.",
    "The senator is a fils de pute and everyone knows it.", "This article is scheisse.", "You absolute arschloch.",
    "Nice try, hurensohn.", "What a wichser this columnist is.", "Go away, kurwa.", "cyka blyat, learn to read.",
    "The editor is a mudak.", "Shut up you madarchod.", "Only a chutiya would write this.", "Putang ina, what a joke.",
    "The reporter is a filho da puta.", "Caralho, this is the dumbest thing I've read.", "Fick dich, author.",
    "Another pinche liar in office.",
)  # fmt: skip


def real_comments(data: Path) -> list[str]:
    with gzip.open(data / "toxicity" / "ucc_val.csv.gz", "rt", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f)]
    with gzip.open(data / "stance" / "arc_train_bodies.csv.gz", "rt", encoding="utf-8") as f:
        texts += [row["articleBody"] for row in csv.DictReader(f)]
    return texts


class Reader:
    """The shipped model as serving reads text (normalised, calibrated, the built-in policy), the plain reading on
    or off."""

    def __init__(self, model: Path) -> None:
        self.predictor = Predictor(model)
        self.calibration = Calibration.load(model)
        self.policy = Policy.from_settings(Settings().default_policy, self.calibration)
        self.plain_picks = predict._plain_picks

    def read(self, texts: list[str], plain: bool) -> tuple[list[dict[str, float]], float]:
        predict._plain_picks = self.plain_picks if plain else (lambda texts: [])  # type: ignore[assignment]
        try:
            started = time.perf_counter()
            predictions = self.predictor.predict([normalise(t).text for t in texts])
            seconds = time.perf_counter() - started
        finally:
            predict._plain_picks = self.plain_picks  # type: ignore[assignment]
        assert self.calibration is not None
        return [self.calibration.scores(p.scores) for p in predictions], seconds

    def held(self, scores: list[dict[str, float]]) -> float:
        return sum(self.policy.decide(s).decision != Decision.ALLOW for s in scores) / len(scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    args = parser.parse_args()
    reader = Reader(args.model)
    clear = [t for texts in CLEAR_CASES.values() for t in texts]
    table: list[dict[str, Any]] = []
    for name, attack in ATTACKS.items():
        texts = [attack(t) for t in clear]
        without, _ = reader.read(texts, plain=False)
        with_plain, _ = reader.read(texts, plain=True)
        table.append(
            {
                "set": name,
                "comments": len(texts),
                "held_by_policy": f"{reader.held(without):.1%} -> {reader.held(with_plain):.1%}",
                "toxicity_at_0.8": f"{_share(without):.1%} -> {_share(with_plain):.1%}",
            }
        )
    without, _ = reader.read(list(BORROWED), plain=False)
    with_plain, _ = reader.read(list(BORROWED), plain=True)
    table.append(
        {
            "set": "borrowed abuse in English",
            "comments": len(BORROWED),
            "held_by_policy": f"{reader.held(without):.1%} -> {reader.held(with_plain):.1%}",
            "toxicity_at_0.8": f"{_share(without):.1%} -> {_share(with_plain):.1%}",
        }
    )
    read_as_english = sum(detect(normalise(t).text).supported for t in BORROWED)
    longest = longest_readings()
    real = real_comments(args.data)
    normalised = [normalise(t).text for t in real]
    started = time.perf_counter()
    rewritten = sum(plain_reading(t) is not None for t in normalised)
    words_us = (time.perf_counter() - started) / len(real) * 1e6
    runs: dict[bool, list[float]] = {False: [], True: []}
    held: dict[bool, float] = {}
    for _ in range(3):  # alternating, side by side: the machine is shared
        for plain in (False, True):
            scores, seconds = reader.read(real, plain)
            runs[plain].append(seconds)
            held[plain] = reader.held(scores)
    table.append(
        {
            "set": "real comments (UCC, ARC)",
            "comments": len(real),
            "held_by_policy": f"{held[False]:.2%} -> {held[True]:.2%}",
            "toxicity_at_0.8": f"read twice: {rewritten} ({rewritten / len(real):.2%})",
        }
    )
    print_table(table)
    seconds = {plain: statistics.median(times) for plain, times in runs.items()}
    print(
        f"model time for the real comments, median of 3: {seconds[False]:.1f} s without, {seconds[True]:.1f} s with "
        f"({seconds[True] / seconds[False]:.3f}x); finding the words to rewrite: {words_us:.0f} us a comment"
    )
    extra = {
        "model": reader.predictor.version,
        "real_comment_seconds": {"without": runs[False], "with": runs[True]},
        "rewrite_us_per_comment": round(words_us, 1),
    }
    print(f"borrowed abuse read as English by the language check: {read_as_english} of {len(BORROWED)}")
    extra["borrowed_read_as_english"] = read_as_english
    print("the plain reading of one 20,000-character comment, seconds:", longest)
    extra["longest_reading_seconds"] = longest
    print(f"wrote {write_result('obfuscation', table, extra)}")


# Comments as long as one may be, written to make the plain reading work hardest (any caller can send them).
LONGEST = {
    "spaced-out letters": "y o u a r e a n i d i o t ",
    "spelled-out sentences": "y o u a r e a n i d i o t . ",
    "words run together": "youareanidiotandiwillkillyou ",
    "vowels dropped": "trrrsts shld dprtd thm ",
    "one word": "a",
}


def longest_readings() -> dict[str, float]:
    """Seconds the plain reading takes for each LONGEST comment at Settings' most characters (cache cleared)."""
    limit = Settings().max_comment_chars
    seconds = {}
    for name, unit in LONGEST.items():
        text = (unit * (limit // len(unit) + 1))[:limit]
        plain_reading.cache_clear()
        started = time.perf_counter()
        plain_reading(text)
        seconds[name] = round(time.perf_counter() - started, 3)
    return seconds


def _share(scores: list[dict[str, float]]) -> float:
    return sum(s["toxicity"] >= 0.8 for s in scores) / len(scores)


if __name__ == "__main__":
    main()
