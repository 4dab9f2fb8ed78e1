"""Which Coral comment each of Moderato's records is. Coral's external phase sends a comment's text, author and
story, but not the id Coral gives it (the comment does not exist yet when the phase runs), so the link is made in
two steps:

1. the phase remembers the new record under the digest of (story, author, text), for a day, and as the author's
   latest comment on the story, for Coral's edit window;
2. Coral's ``COMMENT_CREATED`` / ``COMMENT_REPLY_CREATED`` webhook names the new comment's id; Moderato reads that
   comment through Coral's GraphQL API and finds its record by the same digest.

From then on a reply's ``parentID`` leads to its parent's record (so ``stance_to_parent`` reads the parent), and
a moderator's decision can be sent to Coral under Coral's id. An ``EDIT`` has no id either: within the edit window
it is the author's latest comment on that story (Coral lets only the author edit, only within that window).
"""

from __future__ import annotations

import hashlib
import re

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.model.html_text import html_to_text
from service.moderation.coral_graphql import CoralComment
from service.redis_client import text

SPACE = re.compile(r"\s+")


def digest(*parts: str) -> str:
    """A digest of ids and text, the text read as plain words (Coral's webhook side reads the comment's HTML, the
    phase may have been sent the stripped text: both read the same)."""
    joined = "\x00".join(SPACE.sub(" ", part).strip() for part in parts)
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).hexdigest()[:32]


async def remember(
    redis: aioredis.Redis, tenant: str, comment_id: str, *, story: str, author: str, text: str, edit_window_s: int
) -> None:
    """A new record from Coral's phase, waiting for Coral's webhook to name it."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.coral_unlinked(tenant, digest(story, author, text)), comment_id, ex=keys.CORAL_UNLINKED_TTL_S)
        pipe.set(keys.coral_latest(tenant, digest(story, author)), comment_id, ex=edit_window_s)
        await pipe.execute()


async def edited(redis: aioredis.Redis, tenant: str, *, story: str, author: str) -> str | None:
    """The record an EDIT from this author on this story revises (None: past the edit window, or never seen)."""
    found = await redis.get(keys.coral_latest(tenant, digest(story, author)))
    return text(found) if found else None


async def record_of(redis: aioredis.Redis, tenant: str, coral_id: str) -> str | None:
    """Moderato's record of a Coral comment (None: Coral's webhook has not named it yet)."""
    found = await redis.hget(keys.coral_ids(tenant), coral_id)
    return text(found) if found else None


async def link_known(redis: aioredis.Redis, tenant: str, coral_id: str, comment_id: str) -> None:
    """Record that Coral's comment ``coral_id`` is Moderato's ``comment_id``."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.coral_ids(tenant), coral_id, comment_id)
        pipe.hset(keys.comment(tenant, comment_id), "coral_id", coral_id)
        await pipe.execute()


async def link(redis: aioredis.Redis, tenant: str, comment: CoralComment, *, story: str, author: str) -> str | None:
    """Link a comment Coral's webhook named to the record the phase made for it; returns that record's id (None:
    no record waits for it: the phase never saw it, or a day has passed). ``story`` and ``author`` are the ids as
    the phase stored them."""
    key = keys.coral_unlinked(tenant, digest(story, author, html_to_text(comment.body)))
    found = await redis.get(key)
    if not found:
        return None
    comment_id = text(found)
    await link_known(redis, tenant, comment.id, comment_id)
    if comment.author_name:  # Coral's phase sends no name: the author's record and the comment learn it here
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.comment(tenant, comment_id), "author_name", comment.author_name)
            pipe.hset(keys.author(tenant, author), "name", comment.author_name)
            await pipe.execute()
    await redis.delete(key)
    return comment_id
