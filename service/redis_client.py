"""The one Redis connection pool of a process: explicit timeouts, a bounded and logged connect retry."""

from __future__ import annotations

import asyncio
import logging
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
