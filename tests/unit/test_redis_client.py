"""Helpers of service/redis_client.py that need no server."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from service.redis_client import stop_if_cancelled


async def test_a_forever_loop_stops_even_when_an_await_swallows_its_cancellation() -> None:
    """redis-py can swallow a cancellation that lands mid-command; the loop then carries on unless it asks on each
    turn whether it was asked to stop (a webhook test hung 300 s on that)."""

    swallowed = 0

    async def command_that_swallows_a_cancel() -> None:
        nonlocal swallowed
        if swallowed:  # once: without the check, the test then fails on wait_for's timeout instead of hanging
            await asyncio.sleep(10)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        swallowed += 1

    turns = 0

    async def forever() -> None:
        nonlocal turns
        while True:
            stop_if_cancelled()
            turns += 1
            await command_that_swallows_a_cancel()

    task = asyncio.create_task(forever())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2.0)
    assert turns == 1 and swallowed == 1


async def test_the_learn_schedule_stops_when_a_redis_read_swallows_its_cancellation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The learn job's schedule beside a worker reads the tenants each period; a cancellation redis-py turns into a
    connection error there was taken for "Redis unreachable", the loop went on, and the worker never exited on
    SIGTERM (a test of the scheduled job hung on it)."""
    from types import SimpleNamespace

    from redis.exceptions import ConnectionError as RedisConnectionError

    from service.training import schedule

    reads = 0

    async def tenants_read_as_redis_py_may(redis: object) -> list[str]:
        nonlocal reads
        reads += 1
        if reads > 1:  # once: without the check, the test then fails on wait_for's timeout instead of hanging
            await asyncio.sleep(10)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        raise RedisConnectionError("Connection closed by server.")

    monkeypatch.setattr(schedule, "registered_tenants", tenants_read_as_redis_py_may)
    task = asyncio.create_task(schedule.learn_on_schedule(None, SimpleNamespace(learn_every_s=0.001)))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=2.0)
    assert reads == 1
