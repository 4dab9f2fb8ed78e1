"""Live queue events: what changed in a tenant's review queues, for the moderator page to follow without polling.

Every script that puts a comment into a queue, leases it, releases it or takes it out also appends one entry to the
tenant's capped event stream, in the same script: an event is written exactly when the change it reports is. A
reader resumes from the last id it saw (the page's EventSource sends it back as ``Last-Event-ID``), so a reconnect
loses nothing the stream still holds; a reader too far behind is told to reload (``reset``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.redis_client import FAILURES, cancel_requested, text, text_map

# Event kinds (written by the scripts, read by the page): queued (a comment entered a queue: scored and flagged,
# reported, escalated), claimed (leased to a moderator), released (a lease given back before it ran out), decided
# (approved or rejected: it left every queue), erased (its record was deleted: records.ERASE).
#
# emit(events key, kind, comment id, extra field/value pairs...): one stream entry. emit_counted(events key,
# queue key prefix, ...) adds each queue's size after the change, so a page's counts are exact without a read of
# its own. The queue keys are built from the prefix: the events key's hash tag, so the same slot. Shared by the
# scripts that change queues (records.py, queues.py).
EVENT_LUA = f"""
local function emit(events_key, kind, id, ...)
  redis.call('XADD', events_key, 'MAXLEN', '~', {keys.EVENTS_MAXLEN}, '*', 'kind', kind, 'id', id, ...)
end
local function emit_counted(events_key, queue_prefix, kind, id, ...)
  emit(events_key, kind, id, 'review', redis.call('ZCARD', queue_prefix .. 'review'),
       'reported', redis.call('ZCARD', queue_prefix .. 'reported'),
       'escalated', redis.call('ZCARD', queue_prefix .. 'escalated'), ...)
end
"""

log = logging.getLogger(__name__)

BLOCK_MS = 1000  # under the pool's socket timeout (2 s by default): a blocked read must not look like a dead socket


@dataclass(frozen=True)
class Event:
    id: str  # the stream id: the SSE event id
    kind: str
    data: dict[str, Any]

    def sse(self) -> str:
        return f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data, separators=(',', ':'))}\n\n"


async def last_event_id(redis: aioredis.Redis, tenant: str) -> str:
    """Where a new reader starts: the newest entry now (``0-0`` for an empty stream)."""
    newest = await redis.xrevrange(keys.events(tenant), count=1)
    return text(newest[0][0]) if newest else "0-0"


async def is_behind(redis: aioredis.Redis, tenant: str, after: str) -> bool:
    """Whether entries after ``after`` may have been trimmed away (the reader must reload what it shows)."""
    oldest = await redis.xrange(keys.events(tenant), count=1)
    if not oldest or after == "0-0":
        return False
    return _order(text(oldest[0][0])) > _order(after)


def after_id(stream_id: str, other: str) -> bool:
    """Whether stream id ``stream_id`` comes after ``other``."""
    return _order(stream_id) > _order(other)


def _order(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)


def _event(entry_id: bytes, fields: dict[bytes, bytes]) -> Event:
    data: dict[str, Any] = text_map(fields)
    return Event(text(entry_id), data.pop("kind", "unknown"), data)


async def read_after(redis: aioredis.Redis, tenant: str, after: str, *, block_ms: int | None = BLOCK_MS) -> list[Event]:
    """Events after ``after``, waiting up to ``block_ms`` for the first (None: answer at once)."""
    reply = await redis.xread({keys.events(tenant): after}, count=500, block=block_ms)
    return [
        _event(entry_id, fields)
        for _stream, entries in cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply or [])
        for entry_id, fields in entries
    ]


SUBSCRIBER_BACKLOG = 2000  # events a slow page may fall behind by before it is told to reload


@dataclass(eq=False)  # compared and hashed by identity: each open page is its own subscriber
class Subscription:
    """One open page's events: read ``queue``; ``overflowed`` means events were dropped and the page must reload."""

    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(SUBSCRIBER_BACKLOG))
    overflowed: bool = False


CLOSE_WAIT_S = 3.0


class EventHub:
    """One blocking reader per tenant with open pages, fanning each event out to all of that tenant's pages: a
    hundred moderators cost one Redis connection per site, not a hundred."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._subscribers: dict[str, set[Subscription]] = {}
        self._readers: dict[str, asyncio.Task[None]] = {}
        self._ready: dict[str, asyncio.Event] = {}
        self._closing = False

    @contextlib.asynccontextmanager
    async def subscribe(self, tenant: str) -> AsyncIterator[Subscription]:
        """Events of ``tenant`` that arrive from about now on (catch up on older ones with ``read_after``)."""
        sub = Subscription()
        self._subscribers.setdefault(tenant, set()).add(sub)
        if tenant not in self._readers:  # no await between the check and the task: one reader per tenant
            self._ready[tenant] = asyncio.Event()
            self._readers[tenant] = asyncio.create_task(self._read(tenant), name=f"events-{tenant}")
        # Once the reader knows where it starts, a catch-up read (read_after) from the page's own position
        # overlaps it: no event falls between the two (duplicates are dropped by id).
        ready = self._ready[tenant]
        try:
            await asyncio.wait_for(ready.wait(), timeout=5.0)
            yield sub
        finally:
            self._subscribers[tenant].discard(sub)

    async def _read(self, tenant: str) -> None:
        after: str | None = None
        try:
            while self._subscribers.get(tenant) and not self._closing and not cancel_requested():
                try:
                    if after is None:
                        after = await last_event_id(self.redis, tenant)
                        self._ready[tenant].set()
                    events = await read_after(self.redis, tenant, after)
                except FAILURES as exc:  # an outage: pages keep their connection and catch up afterwards
                    if self._closing or cancel_requested():  # a cancelled blocking read can surface as a connection
                        return  # error: stop as asked
                    log.debug("event reader for %s: %s", tenant, exc)
                    await asyncio.sleep(1.0)
                    continue
                for event in events:
                    after = event.id
                    self._fan_out(tenant, event)
        finally:
            del self._readers[tenant]
            del self._ready[tenant]

    def _fan_out(self, tenant: str, event: Event) -> None:
        for sub in self._subscribers.get(tenant, ()):
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True

    async def close(self) -> None:
        """Stop every reader, within CLOSE_WAIT_S: shutdown never waits on a read that swallowed its cancellation."""
        self._closing = True
        readers = list(self._readers.values())
        for task in readers:
            task.cancel()
        if readers:
            await asyncio.wait(readers, timeout=CLOSE_WAIT_S)
