"""Fair between tenants: a lone tenant's comment latency alone, and beside a neighbour that sends 128 comments of
10,000 characters at once, through the real model and the service's batcher, side by side with the batcher as it
was (one first-come queue, batches bounded by comment count only).

Run: `python bench/fairness.py` (the shipped model; ~5 min here). The table: per setup and scenario, the lone
tenant's latency p50 / p99 and the ratio of its p99 to its p99 alone (target ≤ 3×), and the process's resident
memory after the heavy burst and after it has been given back.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.config import Settings  # noqa: E402
from service.scoring.batcher import MicroBatcher  # noqa: E402
from service.scoring.factory import build_batcher  # noqa: E402
from service.scoring.model_runner import PredictorRunner  # noqa: E402
from service.scoring.scorer import CommentJob  # noqa: E402

LONG = ("The council's budget hearing ran late again and the library's future is still unclear to everyone. " * 101)[
    :10_000
]
LONE = "The library should stay open, it is the heart of this town."


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


SETUPS = {
    "one queue (before)": "before",
    "fair lanes, no stream held": "fair",
    "fair lanes + a stream held for short work (default)": "held",
}


def batcher(runner: PredictorRunner, settings: Settings, setup: str) -> MicroBatcher[Any, Any]:
    if setup == "held":  # as the service builds it
        return build_batcher(settings, runner)
    if setup == "fair":  # fair lanes, every stream free to take long work
        return build_batcher(settings.model_copy(update={"short_work_streams": 0}), runner)
    return MicroBatcher(  # the batcher before: every item costs 1, one lane
        runner.run,
        max_items=settings.batch_max_items,
        max_wait_ms=settings.batch_max_wait_ms,
        streams=settings.stream_layout()[0],
    )


async def lone_latencies(b: MicroBatcher[Any, Any], fair: bool, n: int, gap_s: float) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        await b.submit_many([CommentJob(f"{LONE} ({i})", None)], lane="lone" if fair else "")
        out.append(time.perf_counter() - started)
        await asyncio.sleep(gap_s)
    return out


async def scenario(runner: PredictorRunner, settings: Settings, setup: str, heavy: int, n: int) -> dict[str, Any]:
    b = batcher(runner, settings, setup)
    fair = setup != "before"
    b.start()
    alone = await lone_latencies(b, fair, n, 0.05)
    before = rss_mib()
    started = time.perf_counter()
    burst = asyncio.ensure_future(
        b.submit_many([CommentJob(f"{LONG} ({i})", None) for i in range(heavy)], lane="heavy" if fair else "")
    )
    await asyncio.sleep(0.2)  # the neighbour's burst is queued and running
    beside = await lone_latencies(b, fair, n, 0.05)
    await burst
    burst_s = time.perf_counter() - started  # the neighbour's whole burst: what holding a stream back costs it
    peak = rss_mib()
    await asyncio.sleep(1.0)  # idle: the batcher hands freed memory back (its on_idle hook)
    given_back = rss_mib()
    await b.close()
    return {"alone": alone, "beside": beside, "rss_before": before, "rss_after_burst": peak,
            "rss_given_back": given_back, "burst_left_s": burst_s}  # fmt: skip


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 2 else max(values)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heavy", type=int, default=128, help="the neighbour's comments of 10,000 characters")
    parser.add_argument("--lone", type=int, default=40, help="the lone tenant's comments per scenario")
    args = parser.parse_args()
    settings = Settings()
    runner = PredictorRunner(settings)
    runner.run([CommentJob(LONE, None), CommentJob(LONG, None)])  # warm up
    rows = []
    for label, setup in SETUPS.items():
        got = asyncio.run(scenario(runner, settings, setup, args.heavy, args.lone))
        alone_p99 = p(got["alone"], 99)
        for name in ("alone", "beside"):
            values = got[name]
            rows.append({
                "batcher": label,
                "lone tenant": "alone" if name == "alone" else f"beside {args.heavy} x 10,000 chars",
                "p50 ms": round(1000 * statistics.median(values), 1),
                "p99 ms": round(1000 * p(values, 99), 1),
                "p99 / p99 alone": round(p(values, 99) / alone_p99, 2),
                "neighbour's burst s": round(got["burst_left_s"], 1) if name == "beside" else "",
                "RSS MiB before / after burst / given back": (
                    f"{got['rss_before']:.0f} / {got['rss_after_burst']:.0f} / {got['rss_given_back']:.0f}"
                    if name == "beside" else ""
                ),
            })  # fmt: skip
    print_table(rows)
    path = write_result("fairness", rows, {"command": "python bench/fairness.py", "heavy": args.heavy,
                                           "lone": args.lone})  # fmt: skip
    print(f"written to {path}")


if __name__ == "__main__":
    main()
