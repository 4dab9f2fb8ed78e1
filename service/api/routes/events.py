"""GET /v1/events: a tenant's queue changes as Server-Sent Events, for the moderator page (or any client).

A reconnecting EventSource sends ``Last-Event-ID`` and gets every event it missed that the stream still holds; one
that fell too far behind gets a ``reset`` event and reloads. Each stream ends after ``STREAM_S`` (the browser
reconnects by itself), so a server shutting down never waits long on open pages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from service.api.deps import ModeratorDep, RedisDep, StateDep
from service.errors import Unavailable
from service.moderation.audit import STREAM_ID as AUDIT_STREAM_ID
from service.moderation.events import EventHub, after_id, is_behind, last_event_id, read_after
from service.redis_client import FAILURES

router = APIRouter(prefix="/v1", tags=["events"])

STREAM_S = 300.0  # one connection's longest life
KEEPALIVE_S = 15.0  # a comment line this often keeps proxies from closing an idle stream
DRAIN_CHECK_S = 1.0  # how soon a stream notices the server shutting down
RECONNECT_MS = 2000
STREAM_ID = AUDIT_STREAM_ID.pattern  # an event id is a stream id, as an audit cursor is
RESET = "event: reset\ndata: {}\n\n"
UNAVAILABLE = "event: unavailable\ndata: {}\n\n"


@router.get("/events", response_class=StreamingResponse)
async def events(
    principal: ModeratorDep,
    state: StateDep,
    redis: RedisDep,
    after: Annotated[str | None, Query(pattern=STREAM_ID, description="resume after this event id")] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID", pattern=STREAM_ID)] = None,
) -> StreamingResponse:
    """Queue events (``queued``, ``claimed``, ``released``, ``decided``) of the key's tenant, live."""
    if state.events is None:
        raise Unavailable("the service is starting")
    start = last_event_id_header or after
    return StreamingResponse(
        _stream(state.events, redis, principal.tenant, start, state.draining),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _stream(
    hub: EventHub, redis: aioredis.Redis, tenant: str, start: str | None, draining: asyncio.Event
) -> AsyncIterator[str]:
    yield f"retry: {RECONNECT_MS}\n\n"
    try:
        async with hub.subscribe(tenant) as sub:
            position = start or await last_event_id(redis, tenant)
            if start and await is_behind(redis, tenant, start):
                yield RESET
            while batch := await read_after(redis, tenant, position, block_ms=None):  # what it missed
                for event in batch:
                    position = event.id
                    yield event.sse()
            deadline = time.monotonic() + STREAM_S
            quiet_since = time.monotonic()
            while time.monotonic() < deadline and not draining.is_set():
                if sub.overflowed:
                    yield RESET
                    return
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=DRAIN_CHECK_S)
                except TimeoutError:
                    if time.monotonic() - quiet_since > KEEPALIVE_S:
                        quiet_since = time.monotonic()
                        yield ": keep-alive\n\n"
                    continue
                if after_id(event.id, position):  # the catch-up read and the live feed overlap
                    position = event.id
                    yield event.sse()
    except FAILURES:
        yield UNAVAILABLE  # the browser reconnects after RECONNECT_MS and resumes from its last event
