"""What acknowledging only replicated writes costs: `POST /v1/comments` latency on the embedded single Redis, on a
local Redis Cluster (three masters, one replica each, loopback) acknowledging what the master holds, and on the same
cluster acknowledging once a replica holds it (MODERATO_REDIS_ACK_REPLICAS=1, WAIT), side by side in one run
(rounds interleaved, so the machine's noise falls on all three alike).

Run: `python bench/cluster.py` (~1 min). The table: per setup and batch size, the request latency p50 / p95 and the
ratio of p50 to the single Redis's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fastapi.testclient import TestClient  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench.common import print_table, write_result  # noqa: E402
from service.api.app import create_app  # noqa: E402
from service.config import Settings  # noqa: E402
from service.redis_server import EmbeddedRedis  # noqa: E402
from service.scoring.model_runner import PredictorRunner  # noqa: E402
from tests.utils.redis_cluster import LocalCluster  # noqa: E402

MODEL = Path(__file__).resolve().parent.parent / "model_cards" / "moderato-v10"
HEADERS = {"Authorization": "Bearer pk"}


def settings(folder: Path, url: str, **extra: Any) -> Settings:
    return Settings(
        _env_file=None,
        redis_url=url,
        data_dir=folder,
        model_dir=MODEL,  # type: ignore[call-arg]
        api_keys=SecretStr("pk=bench:platform"),
        inprocess_worker=False,  # accepting only: nothing scores, the backlog just grows
        max_backlog=1_000_000,
        **extra,
    )


@contextmanager
def clients(folder: Path, runner: PredictorRunner) -> Iterator[dict[str, TestClient]]:
    with ExitStack() as stack:
        single = EmbeddedRedis(folder / "single").start()
        stack.callback(single.stop)
        cluster = stack.enter_context(LocalCluster(folder / "cluster"))
        setups = {
            "single Redis (embedded)": settings(folder, single.url),
            "cluster, ack on master": settings(folder, cluster.url, redis_cluster=True),
            "cluster, ack on replica (WAIT)": settings(folder, cluster.url, redis_cluster=True, redis_ack_replicas=1),
        }
        yield {name: stack.enter_context(TestClient(create_app(s, runner=runner))) for name, s in setups.items()}


def post(client: TestClient, size: int, tag: str) -> float:
    comments = [{"id": f"{tag}-{k}", "text": f"Comment {tag} {k} on the budget", "thread_id": "t"} for k in range(size)]
    started = time.perf_counter()
    answer = client.post("/v1/comments", json={"comments": comments}, headers=HEADERS)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 202 and answer.json()["accepted"] == size, answer.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    runner = PredictorRunner(settings(Path("."), "unused"))
    latencies: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder, clients(Path(folder), runner) as setups:
        for i in range(args.rounds):
            for size in (1, 100):
                if size == 100 and i % 4:  # a quarter as many 100-comment batches
                    continue
                for name, client in setups.items():
                    latencies.setdefault((name, size), []).append(post(client, size, f"{i}-{size}-{len(name)}"))
    rows = []
    for (name, size), values in latencies.items():
        base = statistics.median(latencies[("single Redis (embedded)", size)])
        p50 = statistics.median(values)
        rows.append(
            {
                "setup": name,
                "comments per request": size,
                "requests": len(values),
                "p50 ms": round(p50 * 1000, 2),
                "p95 ms": round(statistics.quantiles(values, n=20)[-1] * 1000, 2),
                "p50 × single": round(p50 / base, 2),
            }
        )
    rows.sort(key=lambda r: (r["comments per request"], r["p50 × single"]))
    print_table(rows)
    print(write_result("cluster", rows, {"rounds": args.rounds}))


if __name__ == "__main__":
    main()
