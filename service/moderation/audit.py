"""Reading the append-only audit stream (decisions by the model and by moderators) and the dead-letter streams."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from service import redis_keys as keys
from service.errors import InvalidInput
from service.redis_client import text, text_map

SCAN_LIMIT = 5000  # entries one call examines while filtering
STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def read_stream(
    redis: aioredis.Redis, key: str, *, cursor: str | None, limit: int, filters: dict[str, str]
) -> Page:
    """Newest first; ``cursor`` is the stream id to continue below (exclusive)."""
    if cursor and not STREAM_ID.match(cursor):
        raise InvalidInput("bad cursor: pass a page's next_cursor back unchanged", code="invalid_cursor")
    high = f"({cursor}" if cursor else "+"
    items: list[dict[str, Any]] = []
    examined = 0
    while len(items) < limit and examined < SCAN_LIMIT:
        try:
            rows = await redis.xrevrange(key, max=high, min="-", count=200)
        except ResponseError as exc:
            raise InvalidInput("bad cursor", code="invalid_cursor") from exc
        if not rows:
            return Page(items, None)
        for entry_id, fields in rows:
            examined += 1
            entry = {"id": text(entry_id), **text_map(fields)}
            if all(entry.get(k) == v for k, v in filters.items()):
                items.append(entry)
                if len(items) == limit:
                    return Page(items, entry["id"])
        high = f"({text(rows[-1][0])}"
    return Page(items, high[1:] if items or examined else None)


async def audit_page(
    redis: aioredis.Redis, tenant: str, *, cursor: str | None, limit: int, filters: dict[str, str]
) -> Page:
    """A page of the audit log, each decision with the text of its comment as it reads now (one round trip)."""
    page = await read_stream(redis, keys.audit(tenant), cursor=cursor, limit=limit, filters=filters)
    ids = sorted({e["comment_id"] for e in page.items if e.get("comment_id")})
    if ids:
        async with redis.pipeline(transaction=False) as pipe:
            for comment_id in ids:
                pipe.hget(keys.comment(tenant, comment_id), "text")
            texts = dict(zip(ids, await pipe.execute(), strict=True))
        for entry in page.items:
            found = texts.get(entry.get("comment_id", ""))
            entry["text"] = text(found) if found else None
    return page


async def dead_letter_page(redis: aioredis.Redis, tenant: str, *, kind: str, cursor: str | None, limit: int) -> Page:
    key = keys.dead_letter(tenant) if kind == "ingest" else keys.webhook_dead(tenant)
    return await read_stream(redis, key, cursor=cursor, limit=limit, filters={})
