"""Erasure: when a platform deletes a comment, or a reader asks for everything of theirs to be forgotten.

A comment is erased by one script in its tenant's slot (Records.erase): its record goes (text, author, parent,
scores, decision, reports), and so does its id from every queue, decided view, thread, author page, the recently
scored set that policy previews read, and Coral's id map. Its id stays in the tenant's ``erased`` set, so a retried
POST of the same id is "already known" and never brings the text back. The search index follows through its
pending set (search.py), deleting the row and merging its words out of the full-text index.

What stays, on purpose:
- the audit stream: that a comment id was scored, decided and erased, by whom, with the model's scores; never its
  words (the audit page reads a comment's text from its record, which is gone);
- aggregate counts (decisions, fairness per stance) and, when only a comment is erased, its author's counters;
- answers cached by a digest of the text (scores only) until their TTL, and flood counters (posting times by digest);
- Perspective suggestscore entries (their text names no comment id: suggestions.py), until retention trims them;
- a learned model version that had trained on the comment's label keeps its weights, and the learning job's cache
  its encoder states: roll the tenant back, delete the cache and learn again to leave it out.

With ``MODERATO_RETENTION_DAYS`` set, the workers erase every decided comment whose decision is older than that, the
same way (RetentionLoop; the audit names the actor ``retention``), but one that waits in a queue again (a reader
reported it after it was decided) until a moderator has seen it. Suggested scores older than that go too (their
stream's ids are their arrival times).

An author is erased by erasing every comment of theirs Moderato holds, then their record: name, counters and
standing. A ban goes with it: a platform that must keep one keeps it on its side. Their comments are found in their
index (``author_comments``: every comment that names them, from the moment it is stored), so the request costs what
the author wrote, not what the tenant holds. Records stored before that index held queued comments and more than an
author's newest 1,000 are found by a scan of the keyspace until a worker has indexed the tenant once
(``index_authors``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.contract import DECIDED_VIEWS
from service.errors import NotFound
from service.moderation.records import Records
from service.redis_client import UNAVAILABLE, cancel_requested, stop_if_cancelled, text

log = logging.getLogger(__name__)

SCAN_BATCH = 1000
RETENTION_BATCH = 500  # comments read from a decided view at a time
RETENTION_ACTOR = "retention"


async def comments_of(redis: aioredis.Redis, tenant: str, author_id: str) -> list[str]:
    """Every stored comment id of the author: their index (``author_comments``), and, until the tenant's older records
    are indexed (``index_authors``), every record that names them (a scan)."""
    listed = {text(cast(bytes, i)) for i in await redis.zrange(keys.author_comments(tenant, author_id), 0, -1)}
    if await redis.exists(keys.authors_indexed(tenant)):
        return sorted(listed)
    scanned = _records_with_authors(redis, tenant)
    found = {comment_id async for batch in scanned for comment_id, author, _ in batch if author == author_id}
    return sorted(listed | found)


async def _records_with_authors(redis: aioredis.Redis, tenant: str) -> AsyncIterator[list[tuple[str, str, float]]]:
    """(comment id, author id, when it was scored or else received) of every record of the tenant that names an
    author, by a scan of the keyspace, up to SCAN_BATCH at a time."""
    prefix = keys.comment(tenant, "")
    batch: list[str] = []
    async for key in redis.scan_iter(match=prefix + "*", count=SCAN_BATCH):
        batch.append(text(key)[len(prefix) :])
        if len(batch) >= SCAN_BATCH:
            yield await _authors_of(redis, tenant, batch)
            batch = []
    yield await _authors_of(redis, tenant, batch)


async def _authors_of(redis: aioredis.Redis, tenant: str, comment_ids: list[str]) -> list[tuple[str, str, float]]:
    if not comment_ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for comment_id in comment_ids:
            pipe.hmget(keys.comment(tenant, comment_id), ["author_id", "scored_at", "received_at"])
        rows = await pipe.execute()
    return [
        (comment_id, text(author), float(text(scored or received or b"0")))
        for comment_id, (author, scored, received) in zip(comment_ids, rows, strict=True)
        if author
    ]


async def index_authors(redis: aioredis.Redis, tenant: str) -> int:
    """Put every record of the tenant that names an author into that author's index (records stored before the index
    held every comment), then mark the tenant indexed; how many were missing. A comment stored meanwhile is indexed
    as it is accepted; one erased meanwhile may come back into an index as a bare id, which erasing skips."""
    added = 0
    async for batch in _records_with_authors(redis, tenant):
        async with redis.pipeline(transaction=False) as pipe:
            for comment_id, author, at in batch:
                pipe.zadd(keys.author_comments(tenant, author), {comment_id: at}, nx=True)
            added += sum(int(n or 0) for n in await pipe.execute())
    await redis.set(keys.authors_indexed(tenant), f"{time.time():.3f}")
    return added


async def erase_author(
    records: Records, tenant: str, author_id: str, *, actor: str, reason: str = ""
) -> dict[str, int | str]:
    """Erase every comment of the author and then their record; how many comments were erased now."""
    redis = records.redis
    erased = 0
    for comment_id in await comments_of(redis, tenant, author_id):
        try:
            erased += await records.erase(tenant, comment_id, actor=actor, reason=reason)
        except NotFound:  # erased meanwhile by another request
            continue
    now = f"{time.time():.3f}"
    entry = {"comment_id": "", "author_id": author_id, "actor": actor, "action": "author_erased", "reason": reason,
             "scores": "{}", "at": now, "comments_erased": str(erased)}  # fmt: skip
    async with redis.pipeline(transaction=True) as pipe:  # one slot: the tenant's
        pipe.delete(keys.author(tenant, author_id), keys.author_comments(tenant, author_id))
        pipe.xadd(keys.audit(tenant), entry)  # type: ignore[arg-type]  # redis-py's field types
        await pipe.execute()
    return {"author_id": author_id, "comments_erased": erased}


async def expire_decided(records: Records, tenant: str, *, decided_before: float, reason: str) -> int:
    """Erase every decided comment whose decision is older than ``decided_before`` (epoch seconds: the decided views'
    scores), but one a reader reported since, which waits for a moderator; how many were erased."""
    erased = 0
    for view in DECIDED_VIEWS:
        kept = 0  # the oldest ones still waiting: each page starts after them, so they never stall the pass
        key = keys.decided(tenant, view)
        while found := await records.redis.zrangebyscore(key, "-inf", decided_before, kept, RETENTION_BATCH):
            for comment_id in (text(cast(bytes, m)) for m in found):
                try:
                    done = await records.erase(
                        tenant, comment_id, actor=RETENTION_ACTOR, reason=reason, keep_waiting=True
                    )
                except NotFound:  # a view naming no record: leave it to the next pass
                    done = False
                erased, kept = erased + done, kept + (not done)
    return erased


class RetentionLoop:
    """A worker's pass over every tenant, every ``every_s`` seconds: decided comments past ``days`` are erased."""

    def __init__(self, records: Records, *, days: float, every_s: float, tenants: Callable[[], list[str]]) -> None:
        self.records = records
        self.days = days
        self.every_s = every_s
        self.tenants = tenants
        self.erased = 0

    async def run(self) -> None:
        while True:
            stop_if_cancelled()
            for tenant in list(self.tenants()):
                try:
                    await self.round(tenant)
                except UNAVAILABLE as exc:
                    if cancel_requested():
                        raise asyncio.CancelledError from exc
                    log.warning("retention for %s waits: redis unavailable (%s)", tenant, type(exc).__name__)
            await asyncio.sleep(self.every_s)

    async def round(self, tenant: str) -> None:
        cutoff = time.time() - self.days * 86_400
        reason = f"decided more than {self.days:g} days ago (MODERATO_RETENTION_DAYS)"
        if erased := await expire_decided(self.records, tenant, decided_before=cutoff, reason=reason):
            self.erased += erased
            log.info("retention: %d decided comments of %s erased", erased, tenant)
        stream = keys.suggested_scores(tenant)
        if trimmed := await self.records.redis.xtrim(stream, minid=str(int(cutoff * 1000)), approximate=False):
            log.info("retention: %d suggested scores of %s erased", trimmed, tenant)
