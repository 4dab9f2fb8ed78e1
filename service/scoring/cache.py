"""Results and flood counts in Redis.

Cached results are stored in the normalised text's coordinates (spans included), so the same comment typed with
different spacing or case reuses them. Redis failures here never fail a request: a cache that cannot answer is a
miss, a write that fails is skipped, and both are counted in the metrics.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service.metrics import Metrics
from service.moderation import keys

log = logging.getLogger(__name__)


@dataclass
class CachedResult:
    """A model result for one (normalised text, article): spans as [start, end, attribute] in normalised text."""

    scores: dict[str, float]
    spans: list[tuple[int, int, str]]
    stance: dict[str, Any] | None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> CachedResult:
        data = json.loads(raw)
        return cls(data["scores"], [(int(s), int(e), str(a)) for s, e, a in data["spans"]], data["stance"])


class ResultCache:
    """:param ttl_s: seconds a cached result lives."""

    def __init__(self, redis: aioredis.Redis, *, ttl_s: int, metrics: Metrics) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.metrics = metrics

    async def get_many(self, tenant: str, digests: list[str]) -> list[CachedResult | None]:
        if not digests:
            return []
        try:
            raw = await self.redis.mget([keys.result(tenant, d) for d in digests])
        except RedisError as exc:
            self._failed("cache_get", exc)
            return [None] * len(digests)
        return [None if r is None else CachedResult.from_json(r) for r in raw]

    async def put_many(self, tenant: str, results: dict[str, CachedResult]) -> None:
        if not results:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for digest, result in results.items():
                    pipe.set(keys.result(tenant, digest), result.to_json(), ex=self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            self._failed("cache_put", exc)

    def _failed(self, op: str, exc: Exception) -> None:
        self.metrics.redis_errors.labels(op).inc()
        log.warning("redis %s failed: %s", op, exc)


class FloodCounter:
    """Posting times of each normalised text per tenant, in a sliding window.

    :param window_s: the window, in seconds.
    """

    def __init__(self, redis: aioredis.Redis, *, window_s: int, metrics: Metrics) -> None:
        self.redis = redis
        self.window_s = window_s
        self.metrics = metrics

    async def record(self, tenant: str, text_digests: list[str]) -> list[int | None]:
        """Count one more post of each text; returns each text's posts in the window (None if Redis failed)."""
        if not text_digests:
            return []
        now = time.time()
        try:
            # MULTI per text: add, trim and count must see the same set, or two racing requests both miss a flood
            async with self.redis.pipeline(transaction=True) as pipe:
                for d in text_digests:
                    key = keys.flood(tenant, d)
                    pipe.zadd(key, {f"{now:.6f}:{uuid.uuid4().hex[:8]}": now})
                    pipe.zremrangebyscore(key, "-inf", now - self.window_s)
                    pipe.zcard(key)
                    pipe.expire(key, self.window_s)
                replies = await pipe.execute()
        except RedisError as exc:
            self.metrics.redis_errors.labels("flood").inc()
            log.warning("redis flood count failed: %s", exc)
            return [None] * len(text_digests)
        return [int(replies[i * 4 + 2]) for i in range(len(text_digests))]
