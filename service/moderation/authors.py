"""What moderators decide about an author, and the author's page: suspend, ban, always pre-moderate or trust an
author, with a reason and an optional end time.

A standing lives on the author's record in Redis, so every API replica and worker enforces the same one; each change
is audited (the tenant's audit stream, with the author's id and no comment id); each new comment of the author is
decided with it (rules.model_verdict): suspended or banned, rejected; pre-moderated, held for review; trusted, a
review the scores asked for is skipped (never one for text the model could not read, a language it does not read,
or a flood).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.redis_client import text, text_map

STANDINGS = ("suspended", "banned", "premoderated", "trusted")
CLEAR = "none"  # the action that ends a standing
RECENT_COMMENTS = 50  # comments an author's page lists, newest first
COUNTERS = ("comments", "flagged", "rejected")


@dataclass(frozen=True)
class Standing:
    standing: str  # one of STANDINGS
    reason: str
    until: float | None  # epoch seconds; None: until a moderator ends it
    by: str
    at: float

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def out(self) -> dict[str, Any]:
        return {"standing": self.standing, "reason": self.reason, "until": self.until, "by": self.by, "at": self.at}


def standing_of(record: dict[str, str], now: float) -> Standing | None:
    """The author's standing in force at ``now``, from their record's fields."""
    if record.get("standing") not in STANDINGS:
        return None
    until = record.get("standing_until") or None
    standing = Standing(
        record["standing"],
        record.get("standing_reason", ""),
        float(until) if until else None,
        record.get("standing_by", ""),
        float(record.get("standing_at") or 0),
    )
    return standing if standing.active(now) else None


async def set_standing(
    redis: aioredis.Redis,
    tenant: str,
    author_id: str,
    standing: str,
    *,
    reason: str,
    until: float | None,
    actor: str,
) -> Standing | None:
    """Give the author a standing (or end theirs, with CLEAR) and audit it, in one transaction (one slot)."""
    now = time.time()
    key = keys.author(tenant, author_id)
    fields: dict[Any, Any] = {"standing_reason": reason, "standing_by": actor, "standing_at": f"{now:.3f}"}
    entry = {
        "comment_id": "",
        "author_id": author_id,
        "actor": actor,
        "action": f"author_{standing}" if standing != CLEAR else "author_cleared",
        "reason": reason,
        "scores": "{}",
        "at": f"{now:.3f}",
        "until": "" if until is None else f"{until:.3f}",
    }
    async with redis.pipeline(transaction=True) as pipe:
        if standing == CLEAR:
            pipe.hdel(key, "standing", "standing_until")
            pipe.hset(key, mapping=fields)
        else:
            pipe.hset(key, mapping={**fields, "standing": standing, "standing_until": entry["until"]})
        pipe.xadd(keys.audit(tenant), entry)  # type: ignore[arg-type]  # redis-py's field types
        await pipe.execute()
    if standing == CLEAR:
        return None
    return Standing(standing, reason, until, actor, now)


async def standings(redis: aioredis.Redis, tenant: str, author_ids: list[str | None]) -> list[str | None]:
    """The standing in force for each comment's author (None without an author or a standing), in one round trip."""
    wanted = sorted({a for a in author_ids if a})
    if not wanted:
        return [None] * len(author_ids)
    async with redis.pipeline(transaction=False) as pipe:
        for author_id in wanted:
            pipe.hmget(keys.author(tenant, author_id), "standing", "standing_until")
        rows = await pipe.execute()
    now = time.time()
    found: dict[str, str | None] = {}
    for author_id, (standing, until) in zip(wanted, rows, strict=True):
        record = {"standing": text(standing), "standing_until": text(until)}
        current = standing_of(record, now)
        found[author_id] = current.standing if current else None
    return [found.get(a) if a else None for a in author_ids]


async def author_page(redis: aioredis.Redis, tenant: str, author_id: str) -> dict[str, Any]:
    """The author's name, record, standing and most recent comments (with scores and decisions)."""
    record = text_map(await redis.hgetall(keys.author(tenant, author_id)))
    newest = await redis.zrevrange(keys.author_comments(tenant, author_id), 0, RECENT_COMMENTS - 1)
    ids = [text(cast(bytes, i)) for i in newest]
    async with redis.pipeline(transaction=False) as pipe:
        for cid in ids:
            pipe.hgetall(keys.comment(tenant, cid))
        rows = [text_map(r) for r in await pipe.execute()] if ids else []
    standing = standing_of(record, time.time())
    return {
        "author_id": author_id,
        "author_name": record.get("name") or None,
        "record": {k: int(record.get(k, "0")) for k in COUNTERS},
        "standing": standing.out() if standing else None,
        "comments": [_comment(row) for row in rows if row],
    }


def _comment(row: dict[str, str]) -> dict[str, Any]:
    result = json.loads(row["result"]) if row.get("result") else {}
    return {
        "id": row.get("id", ""),
        "text": row.get("text", ""),
        "thread_id": row.get("thread_id"),
        "status": row.get("status", ""),
        "decision": row.get("decision") or row.get("model_decision") or None,
        "decided_by": row.get("decided_by") or None,
        "reasons": result.get("reasons", []),
        "scores": result.get("scores", {}),
        "received_at": float(row.get("received_at") or 0),
        "reports": int(row.get("reports") or 0),
        "last_report": row.get("last_report") or None,
    }
