"""What Perspective's shape costs over `/v1/analyze` for the same comments, side by side on one `moderato serve`.

Each round sends the same number of fresh, distinct comments (the model scores every one: no cache hits) one per
request, through `/v1/analyze` and through `/v1alpha1/comments:analyze` (TOXICITY, INSULT, THREAT and span
annotations requested, as a Perspective client would), the order of the two alternating between rounds so drift
hits both alike; then the same again with every comment already cached (the shape's own overhead). Medians of
per-request latency over all rounds. Usage: python bench/compat.py [--rounds 6] [--per-round 60]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import KEY, service_env, start  # noqa: E402
from bench.common import print_table, write_result  # noqa: E402

PORT = 8791
SENTENCES = [
    "The council should have published the budget before the vote, not after it.",
    "Honestly this is the worst decision they have made since the parking fiasco.",
    "People who complain about taxes never show up to the public meetings anyway.",
    "You clearly did not read the article, which is typical of you people.",
]


def analyze_body(text: str) -> dict[str, object]:
    return {"comments": [{"id": "c", "text": text}]}


def perspective_body(text: str) -> dict[str, object]:
    attributes = {"TOXICITY": {}, "INSULT": {}, "THREAT": {}}
    return {"comment": {"text": text}, "requestedAttributes": attributes, "spanAnnotations": True}


def timed(client: httpx.Client, path: str, bodies: list[dict[str, object]], **kwargs: object) -> list[float]:
    out = []
    for body in bodies:
        started = time.perf_counter()
        response = client.post(path, json=body, **kwargs)  # type: ignore[arg-type]
        out.append(time.perf_counter() - started)
        response.raise_for_status()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--per-round", type=int, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="moderato-bench-compat-"))
    server = start([sys.executable, "-m", "service.cli", "serve"], service_env(work, PORT), PORT, work / "serve.log")
    base = f"http://127.0.0.1:{PORT}"
    times: dict[str, list[float]] = {k: [] for k in ("analyze", "perspective", "analyze cached", "perspective cached")}
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=30) as client:
            timed(client, "/v1/analyze", [analyze_body(f"warm-up {i}") for i in range(20)])
            serial = 0
            for round_ in range(args.rounds):
                texts = {}
                for name in ("analyze", "perspective"):
                    texts[name] = [f"{SENTENCES[(serial + i) % 4]} (#{serial + i})" for i in range(args.per_round)]
                    serial += args.per_round
                order = ["analyze", "perspective"] if round_ % 2 == 0 else ["perspective", "analyze"]
                for cached in (False, True):  # fresh texts first, then the same texts again: all cache hits
                    for name in order:
                        key = f"{name} cached" if cached else name
                        if name == "analyze":
                            times[key] += timed(client, "/v1/analyze", [analyze_body(t) for t in texts[name]])
                        else:
                            bodies = [perspective_body(t) for t in texts[name]]
                            times[key] += timed(client, f"/v1alpha1/comments:analyze?key={KEY}", bodies)
    finally:
        server.terminate()
        server.wait(timeout=60)
    rows = [
        {
            "case": name,
            "requests": len(t),
            "p50_ms": round(statistics.median(t) * 1000, 2),
            "mean_ms": round(statistics.fmean(t) * 1000, 2),
        }
        for name, t in times.items()
    ]
    ratio = {
        "model_scored": round(statistics.median(times["perspective"]) / statistics.median(times["analyze"]), 3),
        "cached": round(statistics.median(times["perspective cached"]) / statistics.median(times["analyze cached"]), 3),
    }
    print_table(rows)
    print(f"Perspective shape / /v1/analyze, p50: scored {ratio['model_scored']}x, cached {ratio['cached']}x")
    path = write_result("compat", rows, {"rounds": args.rounds, "per_round": args.per_round, "ratio_p50": ratio})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
