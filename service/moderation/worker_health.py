"""Worker liveness: each worker keeps a TTL'd key with its counters; `moderato worker --check`, `/readyz` and
`/metrics` read them. The key vanishes when a worker stops writing it, so a dead worker disappears by itself."""

from __future__ import annotations

import json
import time
from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.redis_client import text


async def beat(redis: aioredis.Redis, name: str, counters: dict[str, int]) -> None:
    """Record that worker ``name`` is alive, with its counters."""
    state = {"name": name, "at": round(time.time(), 3), **counters}
    await redis.set(keys.worker_health(name), json.dumps(state), ex=keys.WORKER_HEALTH_TTL_S)


async def forget(redis: aioredis.Redis, name: str) -> None:
    await redis.delete(keys.worker_health(name))


async def live_workers(redis: aioredis.Redis) -> list[dict[str, Any]]:
    """The state of every worker whose health key has not expired, by name."""
    names = [text(k) async for k in redis.scan_iter(match=keys.worker_health("*"), count=200)]
    async with redis.pipeline(transaction=False) as pipe:  # not MGET: on a cluster the keys live on many slots
        for name in names:
            pipe.get(name)
        raws = await pipe.execute()
    states = [json.loads(raw) for raw in raws if raw]
    return sorted(states, key=lambda s: str(s.get("name")))
