"""The one Redis connection pool of a process: explicit timeouts, a bounded and logged connect retry, and a fail-fast
window after a timeout, so a hung Redis costs a request one socket timeout however many commands its path sends."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.config import Settings

log = logging.getLogger(__name__)


async def connect(url: str, settings: Settings) -> aioredis.Redis:
    """A pool on ``url`` that answered PING; retries with backoff, then raises."""
    client = aioredis.Redis.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_socket_timeout_s,
        health_check_interval=30,
        max_connections=64,
        # One quick retry after a dropped connection (a restarted Redis), none after a timeout: a hung Redis
        # costs a request one socket timeout, not redis-py's default of several with backoff.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=1, supported_errors=(RedisConnectionError,)),
    )
    pool = client.connection_pool  # from_url chose the class for the scheme (TCP, unix socket, TLS): guard that one
    pool.connection_class = _guarded(pool.connection_class, HungRedisBreaker(settings.redis_fail_fast_s))
    for attempt in range(settings.redis_connect_retries + 1):
        try:
            await client.ping()
            return client
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            left = settings.redis_connect_retries - attempt
            log.warning("redis at %s not answering (%s); %d retries left", _safe(url), exc, left)
            if left == 0:
                await client.aclose()
                raise
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
    raise AssertionError("unreachable")


class HungRedisBreaker:
    """Open for ``open_s`` after a command timed out: commands sent meanwhile fail at once with a timeout error of
    their own, instead of each waiting out the socket timeout (a path that sends five commands took five timeouts).
    The first command after the window goes through: it closes the breaker if Redis answers, or opens it again."""

    def __init__(self, open_s: float) -> None:
        self.open_s = open_s
        self.open_until = 0.0

    def check(self) -> None:
        if time.monotonic() < self.open_until:
            raise RedisTimeoutError("Redis timed out moments ago; failing fast until it answers again")

    def trip(self) -> None:
        self.open_until = time.monotonic() + self.open_s


def _guarded(base: type[Any], breaker: HungRedisBreaker) -> type[Any]:
    async def send_packed_command(self: Any, command: Any, check_health: bool = True) -> None:
        breaker.check()
        try:
            await base.send_packed_command(self, command, check_health)
        except RedisTimeoutError:
            breaker.trip()
            raise

    async def read_response(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await base.read_response(self, *args, **kwargs)
        except RedisTimeoutError:
            breaker.trip()
            raise

    methods = {"send_packed_command": send_packed_command, "read_response": read_response}
    return type(f"FailFast{base.__name__}", (base,), methods)


def _safe(url: str) -> str:
    """The URL without a password, for logs."""
    if "@" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def text(value: bytes | str | int | float | None) -> str:
    """A Redis reply value as text (replies are bytes: the pool also carries binary article states)."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)


def text_map(raw: Mapping[Any, Any] | None) -> dict[str, str]:
    """A hash reply as a str -> str dict."""
    return {text(k): text(v) for k, v in (raw or {}).items()}
