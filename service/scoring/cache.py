"""Results and flood counts in Redis: one script call looks up a request's results and counts its posts.

Cached results are stored in the normalised text's coordinates (spans included), so the same comment typed with
different spacing or case reuses them. Redis failures here never fail a request: a cache that cannot answer is a
miss, a write that fails is skipped, and both are counted in the metrics; after a failure the cache leaves Redis
alone for BACKOFF_S, so a hung Redis costs one socket timeout per BACKOFF_S, not two per request.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service import redis_keys as keys
from service.metrics import Metrics

log = logging.getLogger(__name__)

# After a failed call the cache stays away from Redis this long: with Redis hung, every request would otherwise
# wait out a socket timeout on the lookup and another on the write before answering (seconds).
BACKOFF_S = 2.0


@dataclass
class CachedResult:
    """A model result for one (normalised text, article): spans as [start, end, attribute] in normalised text."""

    scores: dict[str, float]
    spans: list[tuple[int, int, str]]
    stance: dict[str, Any] | None
    stance_to_parent: dict[str, Any] | None = None
    # (start, end, {span attribute: score}) in normalised text
    sentences: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)
    complete: bool = True  # the model read the whole (normalised) text

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> CachedResult:
        data = json.loads(raw)
        spans = [(int(s), int(e), str(a)) for s, e, a in data["spans"]]
        # an entry written before sentences carried every attribute has the toxicity score alone
        sentences = [
            (int(s), int(e), v if isinstance(v, dict) else {"toxicity": float(v)})
            for s, e, v in data.get("sentences", [])
        ]
        return cls(
            data["scores"], spans, data["stance"], data.get("stance_to_parent"), sentences, data.get("complete", True)
        )


# One round trip before the model: every cached result asked for, and one more post counted for each text.
# KEYS: the result keys, then the flood keys; ARGV: number of result keys, now, window, one unique member per flood
# key. Add, trim and count run together, so two racing requests cannot both miss a flood.
LOOKUP = """
local n, now, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, n do
  out[i] = redis.call('GET', KEYS[i])
end
for i = n + 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[3 + i - n])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  out[i] = redis.call('ZCARD', KEYS[i])
  redis.call('EXPIRE', KEYS[i], window)
end
return out
"""


@dataclass
class Lookup:
    """Cached results (None: a miss) and posts of each text in the flood window (None: not counted)."""

    results: list[CachedResult | None]
    flood_counts: list[int | None]


class ResultCache:
    """:param ttl_s: seconds a cached result lives; :param flood_window_s: the flood counter's sliding window."""

    def __init__(self, redis: aioredis.Redis, *, ttl_s: int, flood_window_s: int, metrics: Metrics) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.flood_window_s = flood_window_s
        self.metrics = metrics
        self._lookup = redis.register_script(LOOKUP)
        self._skip_until = 0.0

    async def lookup(self, tenant: str, digests: list[str], text_digests: list[str]) -> Lookup:
        """Cached results for ``digests``; counts one more post of each of ``text_digests`` (empty: count none)."""
        if not digests and not text_digests:
            return Lookup([], [])
        if time.monotonic() < self._skip_until:
            return Lookup([None] * len(digests), [None] * len(text_digests))
        now = time.time()
        members = [f"{now:.6f}:{uuid.uuid4().hex[:8]}" for _ in text_digests]
        script_keys = [keys.result(tenant, d) for d in digests] + [keys.flood(tenant, d) for d in text_digests]
        try:
            raw = await self._lookup(keys=script_keys, args=[len(digests), now, self.flood_window_s, *members])
        except RedisError as exc:
            self._failed("cache_lookup", exc)
            return Lookup([None] * len(digests), [None] * len(text_digests))
        results = [None if r is None else CachedResult.from_json(r) for r in raw[: len(digests)]]
        return Lookup(results, [int(c) for c in raw[len(digests) :]])

    async def put_many(self, tenant: str, results: dict[str, CachedResult]) -> None:
        if not results or time.monotonic() < self._skip_until:
            return
        try:
            if len(results) == 1:  # a lone comment: a plain SET took 79-89 us of client CPU, a pipeline of one 117-151
                ((digest, result),) = results.items()
                await self.redis.set(keys.result(tenant, digest), result.to_json(), ex=self.ttl_s)
                return
            async with self.redis.pipeline(transaction=False) as pipe:
                for digest, result in results.items():
                    pipe.set(keys.result(tenant, digest), result.to_json(), ex=self.ttl_s)
                await pipe.execute()
        except RedisError as exc:
            self._failed("cache_put", exc)

    def _failed(self, op: str, exc: Exception) -> None:
        self._skip_until = time.monotonic() + BACKOFF_S
        self.metrics.redis_errors.labels(op).inc()
        log.warning("redis %s failed: %s", op, exc)
