"""Where one request's time goes, per path, in a real `moderato serve` (embedded Redis, the shipped model), sampled
from outside by py-spy (`pip install py-spy`; it needs ptrace, e.g. root or CAP_SYS_PTRACE).

Paths, each driven by one client sending one request at a time over loopback:
  cache-hit   /v1/analyze, one comment whose result is cached
  model       /v1/analyze, one new comment (the model runs)
  ingest      /v1/comments, one new comment (queued; the in-process worker scores it in the background)

For each: requests, p50 latency, the server's CPU per request (from /proc), and the share of the server's busy
samples in each part of the code (a sample counts toward the first part its stack matches, in the order below).
Run: `python bench/profile_paths.py [--seconds 15]`; the table is also written to bench/results/profile_paths.json.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import print_table, write_result  # noqa: E402
from tests.utils.processes import free_port, start_serve, wait_until_ready  # noqa: E402

RATE = 250  # samples per second
HEADERS = {"Authorization": "Bearer pk-a"}
# (part, substrings of a frame "function (file:line)"). A sample counts toward the part of the frame nearest its leaf
# that matches one, so each part is the time spent in its own code and the libraries it calls that no other part
# names. Leaves that are a thread waiting (the event loop's poll, an idle pool thread) count as waiting.
WAITING = ("Runner.run (asyncio/runners.py", "_worker (concurrent/futures/thread.py:81)", "select (selectors.py")
PARTS = [
    ("language detection", ("scoring/language.py", "py3langid")),
    ("calibration", ("model/calibration.py",)),
    ("stance confidence", ("stance_confidence.py",)),
    ("live events", ("moderation/events.py",)),
    ("author record, records", ("moderation/records.py",)),
    ("logging", ("logging/", "service/logs.py")),
    ("metrics", ("prometheus_client", "service/metrics.py")),
    ("rate limits", ("limits/", "rate_limits.py")),
    ("redis client", ("redis/", "hiredis")),
    ("model (torch, tokenizer)", ("torch/", "tokenizers", "transformers/", "model/predict.py", "model/network.py")),
    ("batcher", ("scoring/batcher.py",)),
    ("scoring (cache, policy, scorer)", ("service/scoring/",)),
    ("pydantic, json", ("pydantic", "json/", "orjson", "service/api/schemas.py")),
    ("our API code (auth, middleware, routes)", ("service/api/",)),
    ("FastAPI (dependencies, routing)", ("fastapi/",)),
    ("Starlette (requests, responses)", ("starlette/",)),
    ("uvicorn, HTTP parsing", ("uvicorn/", "httptools", "h11")),
    ("asyncio", ("asyncio/", "uvloop")),
]


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(url: str, path: str, seconds: float) -> list[float]:
    latencies = []
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        deadline = time.monotonic() + seconds
        i = 0
        while time.monotonic() < deadline:
            i += 1
            if path == "cache-hit":
                body: dict[str, Any] = {"comments": [{"id": "c", "text": "The council should keep the library open."}]}
            elif path == "model":
                body = {"comments": [{"id": f"m{i}", "text": f"The council should keep library {i} open, surely."}]}
            else:
                body = {"comments": [{"id": f"q{time.time_ns()}", "text": f"Queued comment {i}", "thread_id": "t"}]}
            route = "/v1/comments" if path == "ingest" else "/v1/analyze"
            started = time.perf_counter()
            answer = client.post(route, json=body)
            latencies.append(time.perf_counter() - started)
            assert answer.status_code in (200, 202), answer.text
    return latencies


def parts_of(raw: str) -> collections.Counter[str]:
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = stack.split(";")
        counts[_part(frames)] += int(n)
    return counts


def _part(frames: list[str]) -> str:
    if any(frames[-1].startswith(w) for w in WAITING):
        return "waiting"
    for frame in reversed(frames):
        for name, marks in PARTS:
            if any(m in frame for m in marks):
                return name
    return "other"


def profile(pid: int, url: str, path: str, seconds: float, folder: Path) -> dict[str, Any]:
    drive(url, path, 2)  # warm: caches, connections, the first batch
    out = folder / f"{path}.txt"
    spy = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--rate", str(RATE), "--format", "raw", "--output", str(out),
         "--duration", str(int(seconds))],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1)  # py-spy attached
    cpu0 = cpu_s(pid)
    latencies = drive(url, path, seconds - 2)
    cpu = cpu_s(pid) - cpu0
    spy.wait(timeout=60)
    counts = parts_of(out.read_text())
    total = sum(n for part, n in counts.items() if part != "waiting") or 1  # shares of the busy samples
    row: dict[str, Any] = {
        "path": path,
        "requests": len(latencies),
        "p50 ms": round(statistics.median(latencies) * 1000, 2),
        "server CPU ms/req": round(cpu * 1000 / len(latencies), 2),
    }
    row.update({name: f"{100 * counts[name] / total:.0f} %" for name in [name for name, _ in PARTS] + ["other"]})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--raw", type=Path, default=ROOT / "bench" / "out" / "profiles", help="py-spy's stacks go here")
    args = parser.parse_args()
    if shutil.which("py-spy") is None:
        raise SystemExit("py-spy is not installed: pip install py-spy")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        from service.redis_server import EmbeddedRedis

        redis_server = EmbeddedRedis(folder / "redis").start()
        port = free_port()
        server = start_serve(redis_server.url, port, folder / "serve.log")
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_ready(url)
            args.raw.mkdir(parents=True, exist_ok=True)
            rows = [profile(server.pid, url, p, args.seconds, args.raw) for p in ("cache-hit", "model", "ingest")]
        finally:
            server.terminate()
            server.wait(timeout=60)
            redis_server.stop()
    columns = [c for c in rows[0] if any(r[c] != "0 %" for r in rows)]
    rows = [{c: r[c] for c in columns} for r in rows]
    print_table(rows)
    print(write_result("profile_paths", rows, {"rate_hz": RATE, "seconds": args.seconds}))


if __name__ == "__main__":
    main()
