"""Search on 1 million stored comments (#25 item 3): how long the index takes to answer the searches a moderator
makes (words, a phrase, a prefix, an author, a time range, and combinations), p50 and p95 per kind.

The comments are real reader comments from the shared data (civil_toxic_spans, ucc_val, davidson_tweets, olid),
cycled to 1,000,000 with 40,000 authors, 5,000 threads and a year of times: a word's frequency is what a site with
that many comments would see. It measures the engine (the index's query, on a thread as the API runs it); the API
then reads the 50 hits' records from Redis in one pipelined round trip.

    python bench/search.py --data ../shared/data [--comments 1000000] [--rounds 40]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.moderation.search import Doc, SearchIndex  # noqa: E402

SOURCES = ("civil_toxic_spans.csv.gz", "ucc_val.csv.gz", "davidson_tweets.csv.gz", "olid_train.csv.gz")
TENANT = "news"
YEAR_S = 365 * 24 * 3600


def texts(data: Path) -> list[str]:
    out: list[str] = []
    for name in SOURCES:
        with gzip.open(data / "toxicity" / name, "rt", newline="") as f:
            for row in csv.DictReader(f):
                value = (row.get("text") or row.get("tweet") or row.get("comment") or "").strip()
                if value:
                    out.append(value)
    return out


def build(index: SearchIndex, corpus: list[str], n: int, rng: random.Random, now: float) -> float:
    started = time.perf_counter()
    batch: list[Doc] = []
    for i in range(n):
        author = rng.randrange(40_000)
        batch.append(
            Doc(
                comment_id=f"c{i}",
                text=corpus[i % len(corpus)],
                at=now - rng.random() * YEAR_S,
                author_id=f"reader-{author}",
                author_name=f"Reader {author}",
                thread_id=f"t{rng.randrange(5000)}",
            )
        )
        if len(batch) == 5000:
            index.index_now(TENANT, batch)
            batch = []
    if batch:
        index.index_now(TENANT, batch)
    return time.perf_counter() - started


def vocabulary(corpus: list[str]) -> tuple[list[str], list[str]]:
    counts: dict[str, int] = {}
    for t in corpus[:20_000]:
        for w in {w.strip(".,!?\"'()").lower() for w in t.split()}:
            if w.isalpha() and len(w) > 3:
                counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=counts.__getitem__, reverse=True)
    return ranked[:50], ranked[2000:4000]  # common words, rarer ones


def queries(corpus: list[str], rng: random.Random, now: float) -> dict[str, list[dict[str, object]]]:
    common, rare = vocabulary(corpus)
    week = now - 7 * 24 * 3600

    def phrase() -> str:
        words = rng.choice(corpus).split()
        start = rng.randrange(max(1, len(words) - 2))
        return '"' + " ".join(words[start : start + 2]).replace('"', "") + '"'

    return {
        "common word": [{"q": rng.choice(common)} for _ in range(40)],
        "rare word": [{"q": rng.choice(rare)} for _ in range(40)],
        "two words": [{"q": f"{rng.choice(common)} {rng.choice(rare)}"} for _ in range(40)],
        "phrase": [{"q": phrase()} for _ in range(40)],
        "prefix": [{"q": rng.choice(rare)[:4] + "*"} for _ in range(40)],
        "author": [{"author": f"reader-{rng.randrange(40_000)}"} for _ in range(40)],
        "word, last week": [{"q": rng.choice(common), "since": week} for _ in range(40)],
        "word and author": [{"q": rng.choice(common), "author": f"reader-{rng.randrange(40_000)}"} for _ in range(40)],
        "last week, no words": [{"since": week} for _ in range(40)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=1, help="passes over every query kind")
    args = parser.parse_args()
    rng = random.Random(7)
    corpus = texts(args.data)
    now = time.time()
    with tempfile.TemporaryDirectory() as folder:
        index = SearchIndex(Path(folder) / "search.db")
        build_s = build(index, corpus, args.comments, rng, now)
        size_mb = sum(p.stat().st_size for p in Path(folder).iterdir()) / 2**20
        rows, every = [], []
        for kind, asks in queries(corpus, rng, now).items():
            times, hits = [], []
            for _ in range(args.rounds):
                for ask in asks:
                    started = time.perf_counter()
                    found = index.search_now(
                        TENANT,
                        q=ask.get("q"),  # type: ignore[arg-type]
                        author=ask.get("author"),  # type: ignore[arg-type]
                        since=ask.get("since"),  # type: ignore[arg-type]
                        until=None,
                        limit=50,
                        cursor=None,
                    )
                    times.append((time.perf_counter() - started) * 1000)
                    hits.append(len(found.ids))
            every += times
            rows.append(
                {
                    "search": kind,
                    "p50 ms": round(statistics.median(times), 1),
                    "p95 ms": round(statistics.quantiles(times, n=20)[-1], 1),
                    "max ms": round(max(times), 1),
                    "hits (median, of 50)": int(statistics.median(hits)),
                }
            )
        overall = round(statistics.quantiles(every, n=20)[-1], 1)
        rows.append(
            {
                "search": "all",
                "p50 ms": round(statistics.median(every), 1),
                "p95 ms": overall,
                "max ms": round(max(every), 1),
                "hits (median, of 50)": "",
            }
        )
        print(f"{args.comments:,} comments indexed in {build_s:.0f} s; index {size_mb:.0f} MiB")
        print_table(rows)
        path = write_result(
            "search",
            rows,
            {
                "comments": args.comments,
                "index_build_s": round(build_s, 1),
                "index_mib": round(size_mb),
                "target_p95_ms": 200,
            },
        )
        print(f"written to {path}")


if __name__ == "__main__":
    main()
