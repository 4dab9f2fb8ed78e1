"""The one Redis connection pool of a process: explicit timeouts, a bounded and logged connect retry, and a fail-fast
window after a timeout, so a hung Redis costs a request one socket timeout however many commands its path sends.

With ``MODERATO_REDIS_CLUSTER`` the pool is a Redis Cluster client instead. Every tenant key carries the tenant as a
hash tag (redis_keys.py), so each script and transaction touches one slot; the code that reads across tenants asks
``is_cluster`` (one stream read per tenant instead of one read of many streams)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ClusterDownError, NoScriptError, RedisClusterException, RedisError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.config import Settings

log = logging.getLogger(__name__)


class NotReplicated(RedisError):
    """A write reached the primary but not ``redis_ack_replicas`` replicas in time: not acknowledged (503)."""


# Redis out of reach for now: down, hung, restarting, a cluster between a master's death and its replica's
# promotion, or a primary without the replicas a write must reach. Loops that wait Redis out catch these; the API
# answers them 503 with Retry-After.
UNAVAILABLE: tuple[type[Exception], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
    NotReplicated,
    OSError,
)

# Any failure of Redis itself (RedisClusterException is not a RedisError): the API's 503, the limiter's "served
# unchecked", the live-event stream's "catch up later".
FAILURES: tuple[type[Exception], ...] = (RedisError, RedisClusterException, OSError)  # OSError: TimeoutError too


def cancel_requested() -> bool:
    """Whether the running task has been asked to stop. A cancelled Redis read can surface as a connection error,
    so a loop that waits out Redis errors asks this before carrying on, or shutdown would wait on it forever."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def stop_if_cancelled() -> None:
    """Raise CancelledError when the running task has been asked to stop. A loop that runs forever calls it on each
    turn: redis-py can swallow a cancellation that lands mid-command (redis/redis-py#2028, #2551), and the loop would
    then carry on, so the shutdown that waits for it never ends (a webhook test hung 300 s on that)."""
    if cancel_requested():
        raise asyncio.CancelledError


def is_cluster(client: object) -> bool:
    return isinstance(client, RedisCluster)


async def connect(url: str, settings: Settings) -> aioredis.Redis:
    """A pool on ``url`` that answered PING; retries with backoff, then raises."""
    client = _cluster(url, settings) if settings.redis_cluster else _single(url, settings)
    for attempt in range(settings.redis_connect_retries + 1):
        try:
            await client.ping()
            return client
        except FAILURES as exc:
            left = settings.redis_connect_retries - attempt
            log.warning("redis at %s not answering (%s); %d retries left", _safe(url), exc, left)
            if left == 0:
                await client.aclose()
                raise
            await asyncio.sleep(min(0.2 * 2**attempt, 3.0))
    raise AssertionError("unreachable")


def _cluster(url: str, settings: Settings) -> aioredis.Redis:
    client = RedisCluster.from_url(
        url,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_socket_timeout_s,
        max_connections=64,  # per node
        # Two quick tries, each after re-reading the slot map: enough to follow a finished failover or a MOVED
        # slot, few enough that a request during a failover answers 503 in well under a second.
        retry=Retry(ExponentialBackoff(cap=0.2, base=0.05), retries=2),
    )
    # One client type to the code: RedisCluster speaks the same commands and routes each by its key's slot.
    return cast(aioredis.Redis, client)


def _single(url: str, settings: Settings) -> aioredis.Redis:
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
    return client


class ReplicatedScript:
    """A Lua script whose writes count as done only once ``replicas`` replicas hold them.

    WAIT counts the writes of the connection it is sent on, so it follows the script in one pipeline to the node
    that owns the script's first key (one connection, one round trip). With ``replicas`` 0 it is a plain script."""

    def __init__(self, redis: aioredis.Redis, source: str, *, replicas: int = 0, timeout_ms: int = 500) -> None:
        self.redis = redis
        self.script: AsyncScript = redis.register_script(source)
        self.replicas = replicas
        self.timeout_ms = timeout_ms

    async def __call__(self, *, keys: list[str], args: list[Any]) -> Any:
        if self.replicas == 0:
            return await self.script(keys=keys, args=args)
        target: dict[str, Any] = {}
        if is_cluster(self.redis):
            target["target_nodes"] = cast(RedisCluster, self.redis).get_node_from_key(keys[0])
        for attempt in range(2):
            pipe = self.redis.pipeline(transaction=False)
            # through execute_command: a cluster pipeline refuses its evalsha helper, not the command itself
            pipe.execute_command("EVALSHA", self.script.sha, len(keys), *keys, *args, **target)
            pipe.execute_command("WAIT", self.replicas, self.timeout_ms, **target)
            try:
                reply, acked = await pipe.execute()
            except NoScriptError:
                if attempt:
                    raise
                await self.redis.script_load(self.script.script)  # a promoted replica has no script cache yet
                continue
            if int(acked) < self.replicas:
                raise NotReplicated(
                    f"{acked} of {self.replicas} replicas confirmed the write within {self.timeout_ms} ms"
                )
            return reply
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
