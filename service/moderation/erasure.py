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
- Perspective suggestscore entries (their text names no comment id: suggestions.py);
- a learned model version that had trained on the comment's label keeps its weights, and the learning job's cache
  its encoder states: roll the tenant back, delete the cache and learn again to leave it out.

An author is erased by erasing every comment of theirs Moderato holds (their page's list, and a scan of the tenant's
records for the rest: queued comments, and those past the page's cap), then their record: name, counters and
standing. A ban goes with it: a platform that must keep one keeps it on its side.
"""

from __future__ import annotations

import time
from typing import cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.errors import NotFound
from service.moderation.records import Records
from service.redis_client import text

SCAN_BATCH = 1000


async def comments_of(redis: aioredis.Redis, tenant: str, author_id: str) -> list[str]:
    """Every stored comment id of the author: their page's list, and every record that names them (a scan)."""
    listed = {text(cast(bytes, i)) for i in await redis.zrange(keys.author_comments(tenant, author_id), 0, -1)}
    prefix = keys.comment(tenant, "")
    batch: list[str] = []
    found: set[str] = set()

    async def check() -> None:
        async with redis.pipeline(transaction=False) as pipe:
            for key in batch:
                pipe.hget(key, "author_id")
            owners = await pipe.execute()
        found.update(key[len(prefix) :] for key, owner in zip(batch, owners, strict=True) if text(owner) == author_id)
        batch.clear()

    async for key in redis.scan_iter(match=prefix + "*", count=SCAN_BATCH):
        batch.append(text(key))
        if len(batch) >= SCAN_BATCH:
            await check()
    if batch:
        await check()
    return sorted(listed | found)


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
