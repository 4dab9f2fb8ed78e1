"""The moderator page under a full queue: 5,000 flagged comments, scored by the real model through the real worker.

Measures, against a live `moderato serve` on loopback (times are whole HTTP round trips seen by this client, so
they include the server's time and nothing of a browser's):
- first paint: GET /moderate for a signed-in moderator (HTML with the first 50 items, counts and the page data);
- the page's follow-up: leasing its batch (POST claim), the next page of the queue, a filtered listing;
- a decision round trip: POST /v1/comments/{id}/decision with the session cookie and CSRF token;
- live latency: from sending a decision to its `decided` event arriving on an open /v1/events stream.

Run: `python bench/moderate.py` (targets: first paint <= 300 ms server time, decision p95 <= 100 ms).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.api import start  # noqa: E402
from bench.common import print_table, write_result  # noqa: E402

PORT = 18741
PLATFORM, MODERATOR = "bench-platform", "bench-moderator"
RUDE = [
    "You are a complete idiot and a liar.",
    "Shut up, nobody cares about your stupid opinion, moron.",
    "People like you are ruining this town, you pathetic fool.",
    "What a dumb, ignorant take. Are you really this stupid?",
    "Get lost, loser. Nobody wants your garbage here.",
]


def env(work: Path) -> dict[str, str]:
    import os

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")},
        "MODERATO_DATA_DIR": str(work),
        "MODERATO_API_KEYS": f"{PLATFORM}=bench:platform,{MODERATOR}=bench:moderator:mia",
        "MODERATO_PORT": str(PORT),
        "MODERATO_LOG_LEVEL": "WARNING",
        "MODERATO_MAX_BACKLOG": "20000",
        "HF_HUB_OFFLINE": "1",
    }


def fill_queue(base: str, n: int) -> float:
    """Posts n rude comments over 100 threads and waits until the worker has put them all in the review queue."""
    t0 = time.perf_counter()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {PLATFORM}"}, timeout=60) as client:
        for first in range(0, n, 500):
            comments = [
                {
                    # trailing spaces make each comment's text its own while the cache (which normalises
                    # whitespace) scores each of the five texts once: 5,000 real results in little model time
                    "text": RUDE[i % len(RUDE)] + " " * (i // len(RUDE) % 50),
                    "id": f"c{i}",
                    "thread_id": f"t{i % 100}",
                    "article_id": f"t{i % 100}",
                    "author_id": f"reader-{i % 700}",
                }
                for i in range(first, min(n, first + 500))
            ]
            assert client.post("/v1/comments", json={"comments": comments}).status_code == 202
    client, _ = signed_in(base)
    deadline = time.monotonic() + 1800
    while time.monotonic() < deadline:
        if page_counts(client)["review"] >= n:
            return time.perf_counter() - t0
        time.sleep(2)
    raise RuntimeError("the review queue did not fill")


def page_counts(client: httpx.Client) -> dict[str, int]:
    """The queue counts the page shows (from its inline data)."""
    html = client.get("/moderate").text
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    assert match, html[:500]
    return dict(json.loads(match.group(1))["counts"])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def row(case: str, times: list[float], target: str = "") -> dict[str, Any]:
    return {
        "case": case,
        "n": len(times),
        "p50 ms": round(statistics.median(times) * 1000, 1),
        "p95 ms": round(percentile(times, 0.95) * 1000, 1),
        "max ms": round(max(times) * 1000, 1),
        "target": target,
    }


def signed_in(base: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, timeout=30)
    assert client.post("/moderate/session", data={"key": MODERATOR}).status_code in (200, 303)
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/moderate").text)
    assert match
    return client, match.group(1)


def timed(fn: Any, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


class DecidedEvents:
    """An open /v1/events stream on a thread, noting when each `decided` event arrives."""

    def __init__(self, base: str) -> None:
        self.arrived: dict[str, float] = {}
        self._client = httpx.Client(timeout=None, headers={"Authorization": f"Bearer {MODERATOR}"})
        self._response = self._client.send(self._client.build_request("GET", f"{base}/v1/events"), stream=True)
        self._response.raise_for_status()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        kind = ""
        try:
            for line in self._response.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind == "decided":
                    comment = re.search(r'"id":"([^"]+)"', line)
                    if comment:
                        self.arrived[comment.group(1)] = time.perf_counter()
        except httpx.HTTPError:
            pass

    def close(self) -> None:
        self._response.close()
        self._client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--decisions", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="moderato-bench-moderate-"))
    server = start([sys.executable, "-m", "service.cli", "serve"], env(work), PORT, work / "serve.log")
    base = f"http://127.0.0.1:{PORT}"
    try:
        fill_s = fill_queue(base, args.items)
        client, csrf = signed_in(base)
        headers = {"X-CSRF-Token": csrf}
        page = client.get("/moderate")
        assert page.status_code == 200 and "page-data" in page.text
        first_paint = timed(lambda: client.get("/moderate").raise_for_status(), args.repeats)
        listing = timed(lambda: client.get("/v1/queues/review", params={"limit": 50}).raise_for_status(), args.repeats)
        filtered = timed(
            lambda: client.get("/v1/queues/review", params={"limit": 50, "attribute": "threat"}).raise_for_status(),
            args.repeats,
        )
        claims: list[float] = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            held = client.post("/v1/queues/review/claim", json={"count": 10}, headers=headers).json()["items"]
            claims.append(time.perf_counter() - t0)
            client.post("/v1/claims/release", json={"ids": [i["id"] for i in held]}, headers=headers)
        ids: list[str] = []
        cursor = None
        while len(ids) < args.decisions:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            listing_page = client.get("/v1/queues/review", params=params).json()
            ids += [i["id"] for i in listing_page["items"]]
            cursor = listing_page["next_cursor"]
        ids = ids[: args.decisions]
        events = DecidedEvents(base)
        time.sleep(1.0)
        decisions: list[float] = []
        sent: dict[str, float] = {}
        for n, cid in enumerate(ids):
            action = ("approve", "reject", "escalate")[n % 3]
            sent[cid] = time.perf_counter()
            r = client.post(
                f"/v1/comments/{cid}/decision", json={"decision": action, "reason": "bench"}, headers=headers
            )
            decisions.append(time.perf_counter() - sent[cid])
            assert r.status_code == 200, r.text
        time.sleep(2.0)
        events.close()
        live = [events.arrived[c] - sent[c] for c in ids if c in events.arrived and ids.index(c) % 3 != 2]
        deadline = time.monotonic() + 300  # every stored comment searchable
        while client.get("/v1/search", params={"limit": 1}).json()["pending"] and time.monotonic() < deadline:
            time.sleep(1)
        searches = [{"q": "idiot"}, {"q": "stupid opinion"}, {"q": '"pathetic fool"'}, {"author": "reader-7"},
                    {"q": "garbage", "author": "reader-8"}, {"q": "lo*"}]  # fmt: skip
        search_times = [
            t
            for params in searches
            for t in timed(lambda p=params: client.get("/v1/search", params=p).raise_for_status(), args.repeats)
        ]
        decided = timed(
            lambda: client.get("/v1/decided/rejected", params={"limit": 50}).raise_for_status(), args.repeats
        )
        audit = timed(lambda: client.get("/v1/audit", params={"limit": 50}).raise_for_status(), args.repeats)
        rows = [
            row(f"first paint: GET /moderate ({args.items} flagged)", first_paint, "<= 300 ms (server time)"),
            row("queue page: GET /v1/queues/review?limit=50", listing),
            row("filtered page: attribute=threat (scans up to 2,000)", filtered),
            row("lease the page's batch: POST claim count=10", claims),
            row("decision round trip (cookie + CSRF)", decisions, "p95 <= 100 ms"),
            row("decision to `decided` event on an open stream", live),
            row("search: GET /v1/search (words, phrase, prefix, author)", search_times, "p95 <= 200 ms"),
            row("decided view: GET /v1/decided/rejected?limit=50", decided),
            row("audit view: GET /v1/audit?limit=50 (with the comments' text)", audit),
        ]
        print_table(rows)
        path = write_result(
            "moderate",
            rows,
            {"items": args.items, "fill_seconds": round(fill_s, 1), "events_received": len(live)},
        )
        print(f"\nqueue filled in {fill_s:.1f} s; results in {path}")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
