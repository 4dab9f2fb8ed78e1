"""Per-key rate limits, kept in Redis (the `limits` library's sliding-window counter), so every API process of a
deployment counts the same requests. A key over its limit gets 429 with ``Retry-After``; every limited answer
carries the ``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset`` headers (IETF draft names).

Limits are per tenant (``MODERATO_RATE_LIMITS``, e.g. ``{"news-site": "600/minute"}``) with a default for the rest
(``MODERATO_DEFAULT_RATE_LIMIT``; unset: no limit). Each API key has its own budget. If Redis cannot answer, the
request is served (a limiter that fails closed would turn a Redis hiccup into an outage); the failure is counted.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from limits import RateLimitItem, parse
from limits.aio.storage import RedisClusterStorage, RedisStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from service import redis_keys as keys
from service.api.auth import Principal
from service.config import Settings
from service.errors import ModeratoError
from service.metrics import Metrics
from service.redis_client import FAILURES, is_cluster

log = logging.getLogger(__name__)

SIGN_IN = "sign-in"  # the namespace of failed sign-ins, counted per client address (no tenant is known yet)


class RateLimited(ModeratoError):
    """429: the key used its budget; ``headers`` say when it may try again."""

    code = "rate_limited"

    def __init__(self, message: str, *, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


@dataclass(frozen=True)
class Verdict:
    headers: dict[str, str]


class RateLimits:
    """:param redis: the process's pool (the limiter shares it, no second pool)."""

    def __init__(self, settings: Settings, redis: aioredis.Redis, metrics: Metrics) -> None:
        self.default = parse(settings.default_rate_limit) if settings.default_rate_limit else None
        self.per_tenant = {tenant: parse(limit) for tenant, limit in settings.rate_limits.items()}
        storage: RedisStorage
        if is_cluster(redis):
            # the limiter's own cluster client (limits builds it from a URL): every counter key carries its hash tag
            storage = RedisClusterStorage(
                _cluster_uri(settings.redis_url or ""),
                implementation="redispy",
                key_prefix=keys.RATE_LIMIT_PREFIX,
                socket_timeout=settings.redis_socket_timeout_s,
                ssl=(settings.redis_url or "").startswith("rediss://"),
            )
        else:
            storage = RedisStorage(
                "async+redis://localhost:6379",  # never dialled: the shared pool below decides where Redis is
                implementation="redispy",
                key_prefix=keys.RATE_LIMIT_PREFIX,
                connection_pool=redis.connection_pool,  # type: ignore[arg-type]  # passed on to redis-py as is
            )
        self.limiter = SlidingWindowCounterRateLimiter(storage)
        self.metrics = metrics
        self.sign_in_failures = parse(settings.sign_in_failure_limit)

    def limit_for(self, tenant: str) -> RateLimitItem | None:
        return self.per_tenant.get(tenant, self.default)

    async def check(self, principal: Principal) -> Verdict:
        """Count one request of this key; raise RateLimited when it is over its limit."""
        item = self.limit_for(principal.tenant)
        if item is None:
            return Verdict({})
        who = (keys.rate_limit_identity(principal.tenant), principal.name)
        try:
            allowed = await self.limiter.hit(item, *who)
            stats = await self.limiter.get_window_stats(item, *who)
        except FAILURES as exc:
            self.metrics.redis_errors.labels("rate_limit").inc()
            log.warning("rate limit not checked (%s); request served", type(exc).__name__)
            return Verdict({})
        reset_s = max(0, math.ceil(stats.reset_time - time.time()))
        headers = {
            "RateLimit-Limit": str(item.amount),
            "RateLimit-Remaining": str(max(0, stats.remaining)),
            "RateLimit-Reset": str(reset_s),
        }
        if not allowed:
            raise RateLimited(
                f"rate limit of {item.amount} per {item.multiples} {item.GRANULARITY.name} reached; "
                f"retry in {max(1, reset_s)} s",
                headers={**headers, "Retry-After": str(max(1, reset_s))},
            )
        return Verdict(headers)

    async def sign_in_allowed(self, client: str) -> bool:
        """Whether this client address may try a key on the sign-in form (it has not used up its failures)."""
        try:
            return bool(await self.limiter.test(self.sign_in_failures, SIGN_IN, client))
        except FAILURES:
            self.metrics.redis_errors.labels("rate_limit").inc()
            return True

    async def sign_in_failed(self, client: str) -> None:
        try:
            await self.limiter.hit(self.sign_in_failures, SIGN_IN, client)
        except FAILURES:
            self.metrics.redis_errors.labels("rate_limit").inc()


def _cluster_uri(url: str) -> str:
    """limits' name for a cluster seed: redis://[:password@]host:port -> async+redis+cluster://[:password@]host:port"""
    scheme, rest = url.split("://", 1)
    if scheme not in ("redis", "rediss"):
        raise ValueError(f"a Redis Cluster is reached over redis:// or rediss://, not {scheme}://")
    return f"async+redis+cluster://{rest}"
