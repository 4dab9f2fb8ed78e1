"""What the admin's label counts cost as a tenant's decided comments grow: a full count against one after new decisions.

A real redis-server (the embedded one) holds a tenant with N comments decided by moderators a day ago, each record as
the decide script leaves it (a third of them rejected). "full" is the first count, which reads every decided comment's
record once, as every count did before the tally (`moderation/labels.py`); "after 100 decisions" is a count once 100
more comments were decided since the last one, the steady state of an admin's view, median of ``--repeats``.

Run: `python -m bench.label_counts` (`--sizes 10000 100000 300000 --repeats 5`).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import redis.asyncio as aioredis

from bench.common import embedded_redis, main_over_sizes
from service import redis_keys as keys
from service.moderation.labels import label_counts

TENANT = "bench"
PER_PIPELINE = 5000
NEW_DECISIONS = 100


async def _decide(redis: aioredis.Redis, start: int, stop: int, ago_s: float = 0.0) -> None:
    """Comments ``start`` to ``stop`` decided by a moderator ``ago_s`` seconds ago, as the decide script records
    them."""
    for first in range(start, stop, PER_PIPELINE):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(first, min(first + PER_PIPELINE, stop)):
                comment_id, now = f"c{i}", time.time() - ago_s
                decision = "reject" if i % 3 == 0 else "approve"
                pipe.hset(
                    keys.comment(TENANT, comment_id),
                    mapping={
                        "id": comment_id, "text": f"Comment {i} on the budget, with some words to it.",
                        "status": "decided", "decision": decision, "decided_by": "ana", "decided_at": f"{now:.3f}",
                    },
                )  # fmt: skip
                view = "rejected" if decision == "reject" else "approved"
                pipe.zadd(keys.decided(TENANT, view), {comment_id: now})
            await pipe.execute()


async def _count_s(redis: aioredis.Redis) -> float:
    started = time.perf_counter()
    await label_counts(redis, TENANT)
    return time.perf_counter() - started


async def run(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    rows = []
    async with embedded_redis() as redis:
        for size in sizes:
            await redis.flushall()
            await _decide(redis, 0, size, ago_s=86_400)  # the tenant's history: decided before today
            full = await _count_s(redis)
            later = []
            for r in range(repeats):
                await _decide(redis, size + r * NEW_DECISIONS, size + (r + 1) * NEW_DECISIONS)
                later.append(await _count_s(redis))
            counted = await label_counts(redis, TENANT)
            assert counted["moderator"]["labels"] == size + repeats * NEW_DECISIONS, counted
            rows.append({
                "decided comments": size, "full count: s": round(full, 3),
                f"after {NEW_DECISIONS} decisions: median s": round(statistics.median(later), 3),
                "ratio": round(full / statistics.median(later), 1),
            })  # fmt: skip
    return rows


if __name__ == "__main__":
    main_over_sizes(__doc__, "label_counts", run, {"new_decisions": NEW_DECISIONS})
