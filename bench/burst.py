"""Burst ingest: N comments posted as fast as possible, then scored by 1 or 2 worker processes.

Reports the accept rate, the time until every comment is scored, the backlog over time, and checks the count:
accepted = scored + dead-lettered, nothing lost, nobody decided twice. Runs the same with a worker killed
(SIGKILL) mid-run and with Redis killed and restarted from its append-only file mid-run. The model's own batched
throughput is measured in the same run, for the "within (N / model throughput) x 1.3" target.
Only loopback and a Unix socket are used. Usage: python bench/burst.py [--n 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api import model_batched_throughput, start  # noqa: E402
from bench.common import print_table, write_result  # noqa: E402
from bench.model import comments  # noqa: E402
from service import redis_keys as keys  # noqa: E402
from service.redis_server import EmbeddedRedis  # noqa: E402

KEY, TENANT, PORT = "burst-key", "burst", 18741
BATCH, CLIENTS = 200, 8


async def post_all(texts: list[str], prefix: str) -> tuple[float, int, Counter[int]]:
    """Post every comment in batches from concurrent clients; returns (seconds, accepted, statuses)."""
    bodies = [
        {
            "comments": [
                {"id": f"{prefix}{i + j}", "text": t, "thread_id": f"thread-{(i + j) % 20}"}
                for j, t in enumerate(texts[i : i + BATCH])
            ]
        }
        for i in range(0, len(texts), BATCH)
    ]
    statuses: Counter[int] = Counter()
    accepted = 0
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=CLIENTS)) as client:

        async def worker() -> None:
            nonlocal accepted
            while not queue.empty():
                body = queue.get_nowait()
                response = await client.post(
                    f"http://127.0.0.1:{PORT}/v1/comments", json=body, headers={"Authorization": f"Bearer {KEY}"}
                )
                statuses[response.status_code] += 1
                if response.status_code == 202:
                    accepted += response.json()["accepted"]

        start_t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - start_t, accepted, statuses


def start_workers(n: int, url: str, work: Path, tag: str) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")}
    env.update(
        {
            "MODERATO_REDIS_URL": url,
            "MODERATO_LOG_LEVEL": "WARNING",
            "MODERATO_CLAIM_IDLE_MS": "3000",
            "HF_HUB_OFFLINE": "1",
            "MODERATO_TORCH_THREADS": str(max(1, (os.cpu_count() or 2) // n)),
        }
    )
    procs = []
    for i in range(n):
        with open(work / f"worker-{tag}-{i}.log", "ab") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service.cli", "worker", "--name", f"{tag}-{i}"],
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return procs


def count(r: redis.Redis, ids: list[str]) -> Counter[str]:
    out: Counter[str] = Counter()
    for i in range(0, len(ids), 1000):
        pipe = r.pipeline()
        for cid in ids[i : i + 1000]:
            pipe.hget(keys.comment(TENANT, cid), "status")
        out.update((s or b"missing").decode() for s in pipe.execute())
    return out


def run_scenario(
    name: str, texts: list[str], server: EmbeddedRedis, work: Path, workers: int, fault: str | None = None
) -> dict[str, Any]:
    prefix = f"{name}-"
    texts = [f"{name}: {t}" for t in texts]  # new texts in every scenario: the cache must not help
    client = redis.Redis.from_url(server.url, socket_timeout=5)
    # Workers are already running when a burst arrives, as in a deployment: start them and wait until each
    # has loaded its model and written its health key.
    procs = start_workers(workers, server.url, work, name)
    wait_ready = time.monotonic() + 180
    while sum(1 for _ in client.scan_iter(match=keys.worker_health(f"{name}-*"))) < workers:
        if time.monotonic() > wait_ready:
            raise RuntimeError(f"{name}: workers did not start")
        time.sleep(0.2)
    started = time.perf_counter()
    seconds, accepted, statuses = asyncio.run(post_all(texts, prefix))
    ids = [f"{prefix}{i}" for i in range(len(texts))]
    backlog: list[tuple[float, int]] = []
    faulted = False
    try:
        while True:
            try:
                depth = client.xlen(keys.ingest(TENANT))
                done = depth == 0 and client.xpending(keys.ingest(TENANT), keys.INGEST_GROUP)["pending"] == 0
            except (redis.ConnectionError, redis.TimeoutError):
                time.sleep(0.2)
                continue
            elapsed = time.perf_counter() - started
            backlog.append((round(elapsed, 1), depth))
            if done and elapsed > 1:
                break
            if fault and not faulted and depth < len(texts) * 0.6 and elapsed > seconds:
                faulted = True
                if fault == "kill-worker":
                    procs[0].send_signal(signal.SIGKILL)
                    procs[0].wait()
                    procs += start_workers(1, server.url, work, f"{name}-replacement")
                else:  # kill -9 Redis, then restart it from its append-only file
                    server.kill()
                    server.start()
                    client = redis.Redis.from_url(server.url, socket_timeout=5)
            if elapsed > 1800:
                raise RuntimeError(f"{name}: not drained after 30 min")
            time.sleep(0.5)
        scored_s = time.perf_counter() - started
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            p.wait(60)
    states = count(client, ids)
    dead = client.xlen(keys.dead_letter(TENANT))
    decisions = Counter(
        e[1][b"comment_id"].decode()
        for e in client.xrange(keys.audit(TENANT))
        if e[1][b"comment_id"].decode().startswith(prefix)
    )
    scored = states["scored"] + states["decided"]
    return {
        "scenario": name,
        "workers": workers,
        "accepted": accepted,
        "accept_s": round(seconds, 2),
        "accept_per_s": round(accepted / seconds),
        "scored": scored,
        "dead_lettered": dead,
        "lost": accepted - scored - states["failed"],
        "duplicated_decisions": sum(v - 1 for v in decisions.values() if v > 1),
        "all_scored_s": round(scored_s, 1),
        "non_202": sum(v for k, v in statuses.items() if k != 202),
        "backlog": backlog[:: max(1, len(backlog) // 20)],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--fault-n", type=int, default=3000, help="comments in the fault scenarios")
    args = parser.parse_args()
    from service.model.checkpoint import load_tokenizer

    base = comments(load_tokenizer(), 64, 40)
    texts = [f"#{i} {base[i % len(base)]}" for i in range(args.n)]  # every text new: no cache help
    work = Path(tempfile.mkdtemp(prefix="moderato-burst-"))
    server = EmbeddedRedis(work / "redis").start()
    env = {
        **os.environ,
        "MODERATO_REDIS_URL": server.url,
        "MODERATO_API_KEYS": f"{KEY}={TENANT}:platform",
        "MODERATO_PORT": str(PORT),
        "MODERATO_LOG_LEVEL": "WARNING",
        "MODERATO_INPROCESS_WORKER": "false",
        "MODERATO_DATA_DIR": str(work),
        "HF_HUB_OFFLINE": "1",
    }
    api = start([sys.executable, "-m", "service.cli", "serve"], env, PORT, work / "api.log")
    rows = []
    try:
        rows.append(run_scenario("one-worker", texts, server, work, 1))
        rows.append(run_scenario("two-workers", texts, server, work, 2))
        rows.append(run_scenario("kill-worker", texts[: args.fault_n], server, work, 2, fault="kill-worker"))
        rows.append(run_scenario("restart-redis", texts[: args.fault_n], server, work, 2, fault="restart-redis"))
    finally:
        api.terminate()
        api.wait(60)
        server.stop()
    model_rate = model_batched_throughput(base, 15)
    for row in rows:
        row["target_s"] = round(row["accepted"] / model_rate * 1.3, 1)
    print_table([{k: v for k, v in r.items() if k != "backlog"} for r in rows])
    print(f"model alone, batch 32: {model_rate:.1f} comments/s")
    for r in rows:
        print(f"backlog over time ({r['scenario']}): {json.dumps(r['backlog'])}")
    print(f"wrote {write_result('burst', rows, {'n': args.n, 'model_comments_per_s': round(model_rate, 1)})}")


if __name__ == "__main__":
    main()
