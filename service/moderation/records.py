"""Comment records in Redis: accepting a burst (idempotent on the client's id), storing a scored result exactly
once, reading a comment back, and user reports.

State changes that must not race run as Lua scripts: Redis runs each one atomically, so a retried request, a
redelivered stream message or two workers on one message cannot double-accept, double-score or double-count.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.contract import DECIDED_VIEWS, QUEUES, Queue
from service.errors import Backpressure, Conflict, InvalidInput, NotFound
from service.model.labels import counted_stance
from service.moderation.events import EVENT_LUA
from service.moderation.rules import ModelVerdict
from service.redis_client import ReplicatedScript, text, text_map


@dataclass(frozen=True)
class IncomingComment:
    id: str
    text: str
    thread_id: str
    article_id: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    parent_id: str | None = None
    callback_url: str | None = None
    story_url: str | None = None  # the page the comment was posted under, when the platform says (Coral does)

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v is not None}


# KEYS[1] ingest stream, KEYS[2] erased ids, KEYS[3..n+2] comment hashes, KEYS[n+3..2n+2] their threads' sorted
# sets. ARGV[1] max backlog, ARGV[2] now, ARGV[3] author comments key prefix, ARGV[4..] comment fields (JSON).
# Returns {-1, backlog} when the burst does not fit, {-2, i} when comment i's fields do not decode, else one 1
# (accepted) or 0 (already known, or erased: a retried request never brings an erased text back) per comment. All
# or nothing: Redis does not roll a script back when it fails half-way, so everything that can fail is checked
# before the first write.
ACCEPT = """
local n = (#KEYS - 2) / 2
local decoded = {}
for i = 1, n do
  local ok, fields = pcall(cjson.decode, ARGV[i + 3])
  if not ok or type(fields) ~= 'table' then return {-2, i} end
  decoded[i] = fields
end
local function known(i)
  return redis.call('EXISTS', KEYS[i + 2]) == 1 or redis.call('ZSCORE', KEYS[2], decoded[i]['id']) ~= false
end
local fresh = 0
for i = 1, n do
  if not known(i) then fresh = fresh + 1 end
end
local backlog = redis.call('XLEN', KEYS[1])
if fresh > 0 and backlog + fresh > tonumber(ARGV[1]) then return {-1, backlog} end
local out = {}
for i = 1, n do
  if not known(i) then
    local fields = decoded[i]
    for k, v in pairs(fields) do redis.call('HSET', KEYS[i + 2], k, v) end
    redis.call('HSET', KEYS[i + 2], 'status', 'queued', 'received_at', ARGV[2])
    redis.call('XADD', KEYS[1], '*', 'id', fields['id'])
    -- arrival order, the request's own order among comments of one request (a microsecond apart)
    redis.call('ZADD', KEYS[n + 2 + i], tonumber(ARGV[2]) + i / 1000000, fields['id'])
    -- every comment of an author, from the moment it is stored: erasing the author needs no scan
    local author = fields['author_id']
    if type(author) == 'string' and author ~= '' then redis.call('ZADD', ARGV[3] .. author, ARGV[2], fields['id']) end
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

# Enqueue a signed-later webhook delivery for the comment in KEYS[1]. Needs: `now`, `body` (JSON), `url`,
# `hook_prefix` (job key prefix), KEYS[due]. Shared by the scripts below.
WEBHOOK_LUA = """
local function enqueue_webhook(comment_key, due_key, hook_prefix, url, body, now)
  if url == nil or url == '' then return end
  local n = redis.call('HINCRBY', comment_key, 'webhooks', 1)
  local job = redis.call('HGET', comment_key, 'id') .. ':' .. n
  redis.call('HSET', hook_prefix .. job, 'url', url, 'body', body, 'attempts', 0, 'created_at', now)
  redis.call('ZADD', due_key, now, job)
end
"""

# Count a comment toward its author's record (comments, flagged, rejected), when it names an author. The author
# key is built from ARGV's prefix and the stored author id: the same hash tag as the comment's, so the same slot.
# 'author_rejected' remembers whether this comment is counted as rejected, as 'fair_rejected' does for fairness.
AUTHOR_LUA = """
local function count_author(comment_key, author_prefix, field, by)
  local author = redis.call('HGET', comment_key, 'author_id')
  if author and author ~= '' then redis.call('HINCRBY', author_prefix .. author, field, by) end
end
local function count_rejection(comment_key, author_prefix, rejected)
  local counted = redis.call('HGET', comment_key, 'author_rejected') == '1'
  if counted ~= rejected then
    count_author(comment_key, author_prefix, 'rejected', rejected and 1 or -1)
    redis.call('HSET', comment_key, 'author_rejected', rejected and '1' or '0')
  end
end
"""

# KEYS: comment, review queue, fairness, audit, webhook due, events, decision counts, decided rejected, decided
# unmoderated, recently scored, search pending. ARGV: result JSON, status,
# priority ('' = not queued), stance label ('' = none, 'unsure' = not confident), model decision, now, audit JSON,
# webhook body ('' = none), webhook url, hook prefix, flagged (0/1), author prefix, queue key prefix, author comments
# prefix, recently scored kept, the model version that scored it. Returns 1 when stored, 0
# when this comment was already stored (a redelivery).
STORE_RESULT = (
    WEBHOOK_LUA
    + EVENT_LUA
    + AUTHOR_LUA
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if st ~= 'queued' then return 0 end
local now = ARGV[6]
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'result', ARGV[1], 'model_decision', ARGV[5], 'scored_at', now,
           'stance_label', ARGV[4], 'model_version', ARGV[16])
local id = redis.call('HGET', KEYS[1], 'id')
-- the tenant's most recently scored comments, which a policy change is previewed on
redis.call('ZADD', KEYS[10], now, id)
redis.call('ZREMRANGEBYRANK', KEYS[10], 0, -tonumber(ARGV[15]) - 1)
redis.call('ZADD', KEYS[11], now, id)  -- for the search index, in this same atomic step
if ARGV[3] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[3], id)
  redis.call('HSET', KEYS[1], 'queue', 'review')
  emit_counted(KEYS[6], ARGV[13], 'queued', id, 'queue', 'review')
end
-- A revision (an edit, rescored) is the same comment: what counts comments counted it when it was first scored
local first = (redis.call('HGET', KEYS[1], 'revision') or '0') == '0'
if first then count_author(KEYS[1], ARGV[12], 'comments', 1) end
local author = redis.call('HGET', KEYS[1], 'author_id')
if author and author ~= '' then  -- the author's page: their comments, newest first, and the name they go by now
  redis.call('ZADD', ARGV[14] .. author, now, id)
  local name = redis.call('HGET', KEYS[1], 'author_name')
  if name and name ~= '' then redis.call('HSET', ARGV[12] .. author, 'name', name) end
end
if first and ARGV[11] == '1' then count_author(KEYS[1], ARGV[12], 'flagged', 1) end
count_rejection(KEYS[1], ARGV[12], ARGV[5] == 'reject')
if first and ARGV[4] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':total', 1)
  if ARGV[11] == '1' then redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':flagged', 1) end
  if ARGV[5] == 'reject' then redis.call('HINCRBY', KEYS[3], ARGV[4] .. ':model_rejected', 1) end
end
redis.call('HINCRBY', KEYS[7], 'model:' .. ARGV[5], 1)
if ARGV[2] == 'decided' then
  redis.call('HSET', KEYS[1], 'decision', ARGV[5], 'decided_by', 'model', 'decided_at', now)
  redis.call('ZADD', ARGV[5] == 'reject' and KEYS[8] or KEYS[9], now, id)
  local entry = cjson.decode(ARGV[7])
  local flat = {}
  for k, v in pairs(entry) do table.insert(flat, k); table.insert(flat, v) end
  redis.call('XADD', KEYS[4], '*', unpack(flat))
  enqueue_webhook(KEYS[1], KEYS[5], ARGV[10], ARGV[9], ARGV[8], now)
end
return 1
"""
)

# KEYS: comment, reported queue, events. ARGV: priority, reason, now, queue key prefix. Returns 'ok', 'not_found'
# or 'not_scored'.
REPORT = (
    EVENT_LUA
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'not_found' end
if st == 'queued' or st == 'failed' then return 'not_scored' end
redis.call('HINCRBY', KEYS[1], 'reports', 1)
redis.call('HSET', KEYS[1], 'last_report', ARGV[2], 'last_report_at', ARGV[3])
local id = redis.call('HGET', KEYS[1], 'id')
if redis.call('ZADD', KEYS[2], 'NX', ARGV[1], id) == 1 then
  if (redis.call('HGET', KEYS[1], 'queue') or '') == '' then redis.call('HSET', KEYS[1], 'queue', 'reported') end
  emit_counted(KEYS[3], ARGV[4], 'queued', id, 'queue', 'reported')
end
return 'ok'
"""
)


# KEYS: comment, ingest stream, claim, then every review queue and decided view the comment may be in. ARGV: the
# edited text, now. An edit is a new revision of the same comment: it leaves every queue and decided view, loses
# its decision and claim, and is queued to be scored again (the worker's result then places it anew). Returns 'ok',
# 'not_found' or 'unchanged' (the same text again: nothing to do).
REVISE = """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'not_found' end
if redis.call('HGET', KEYS[1], 'text') == ARGV[1] then return 'unchanged' end
local id = redis.call('HGET', KEYS[1], 'id')
for i = 4, #KEYS do redis.call('ZREM', KEYS[i], id) end
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[1], 'queue', 'decision', 'decided_by', 'decided_at', 'decision_reason', 'escalated_by',
           'error', 'reversed')
redis.call('HINCRBY', KEYS[1], 'revision', 1)
redis.call('HSET', KEYS[1], 'text', ARGV[1], 'edited_at', ARGV[2])
if st ~= 'queued' then  -- a comment not scored yet is still on the stream: the worker reads the new text
  redis.call('HSET', KEYS[1], 'status', 'queued')
  redis.call('XADD', KEYS[2], '*', 'id', id)
end
return 'ok'
"""


# KEYS: comment, claim, erased ids, audit, events, recently scored, search pending, coral ids, label tally, then every
# review queue and decided view. ARGV: comment id, now, actor, reason, thread key prefix, author comments prefix, queue
# key prefix, how many of the KEYS are review queues, '1' to keep a comment waiting in a queue (retention). Erasing
# takes the comment out of everything that names it and deletes its record (text, author, scores, decision): the audit
# keeps that it was decided and erased, never its words. Returns 'erased', 'already' (erased before: nothing left to
# do), 'waiting' (kept: a moderator has yet to see it) or 'not_found'.
ERASE = (
    EVENT_LUA
    + """
local id = ARGV[1]
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('ZSCORE', KEYS[3], id) then return 'already' end
  return 'not_found'
end
if ARGV[9] == '1' and (redis.call('HGET', KEYS[1], 'queue') or '') ~= '' then return 'waiting' end
local thread = redis.call('HGET', KEYS[1], 'thread_id')
local author = redis.call('HGET', KEYS[1], 'author_id')
local coral = redis.call('HGET', KEYS[1], 'coral_id')
local queued = false
for i = 10, #KEYS do
  if redis.call('ZREM', KEYS[i], id) == 1 and i <= 9 + tonumber(ARGV[8]) then queued = true end
end
redis.call('ZREM', KEYS[6], id)
redis.call('HDEL', KEYS[9], id)
if thread and thread ~= '' then redis.call('ZREM', ARGV[5] .. thread, id) end
if author and author ~= '' then redis.call('ZREM', ARGV[6] .. author, id) end
if coral and coral ~= '' then redis.call('HDEL', KEYS[8], coral) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZADD', KEYS[3], ARGV[2], id)
redis.call('ZADD', KEYS[7], ARGV[2], id)  -- the search indexer finds no record and deletes the indexed text
redis.call('XADD', KEYS[4], '*', 'comment_id', id, 'actor', ARGV[3], 'action', 'erased', 'reason', ARGV[4],
           'scores', '{}', 'at', ARGV[2])
if queued then emit_counted(KEYS[5], ARGV[7], 'erased', id) else emit(KEYS[5], 'erased', id) end
return 'erased'
"""
)


async def registered_tenants(redis: aioredis.Redis) -> list[str]:
    """Tenants that have ever queued a comment (the registry that workers, metrics and exports walk)."""
    return sorted(text(t) for t in await redis.smembers(keys.TENANTS))


class Records:
    """Comment records of all tenants on one Redis pool.

    :param max_backlog: most comments a tenant may have waiting in its ingest stream.
    :param ack_replicas: replicas that must hold an accepted comment, a stored result or a report before it counts
        as done (``MODERATO_REDIS_ACK_REPLICAS``), within ``ack_timeout_ms``.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        max_backlog: int,
        retry_after_s: int = 5,
        ack_replicas: int = 0,
        ack_timeout_ms: int = 500,
    ) -> None:
        self.redis = redis
        self.max_backlog = max_backlog
        self.retry_after_s = retry_after_s
        durability = {"replicas": ack_replicas, "timeout_ms": ack_timeout_ms}
        self._accept = ReplicatedScript(redis, ACCEPT, **durability)
        self._store = ReplicatedScript(redis, STORE_RESULT, **durability)
        self._report = ReplicatedScript(redis, REPORT, **durability)
        self._revise = ReplicatedScript(redis, REVISE, **durability)
        self._erase = ReplicatedScript(redis, ERASE, **durability)

    async def accept(self, tenant: str, comments: list[IncomingComment]) -> list[bool]:
        """Queue comments for scoring; True for each newly accepted, False for an id already known."""
        await self.redis.sadd(keys.TENANTS, tenant)
        fields = [json.dumps(c.fields()) for c in comments]
        reply = await self._accept(
            keys=[keys.ingest(tenant), keys.erased(tenant)]
            + [keys.comment(tenant, c.id) for c in comments]
            + [keys.thread(tenant, c.thread_id) for c in comments],
            args=[self.max_backlog, f"{time.time():.3f}", keys.author_comments(tenant, ""), *fields],
        )
        if reply and int(reply[0]) == -2:
            raise InvalidInput(
                f"comment {comments[int(reply[1]) - 1].id!r} could not be stored", code="invalid_comment"
            )
        if reply and int(reply[0]) == -1:
            raise Backpressure(
                f"{int(reply[1])} comments are waiting to be scored; retry shortly", retry_after_s=self.retry_after_s
            )
        return [int(r) == 1 for r in reply]

    async def store_result(
        self,
        tenant: str,
        comment_id: str,
        verdict: ModelVerdict,
        *,
        article_id: str | None,
        webhook_url: str | None,
        model_version: str = "",
    ) -> bool:
        """Write a scored result once; False if it had been written already (the message was redelivered)."""
        stance = counted_stance(verdict.result.get("stance"))  # the fairness report counts confident labels
        reply = await self._store(
            keys=[
                keys.comment(tenant, comment_id),
                keys.queue(tenant, Queue.REVIEW),
                keys.fairness(tenant, article_id or "-"),
                keys.audit(tenant),
                keys.webhook_due(tenant),
                keys.events(tenant),
                keys.decision_counts(tenant),
                keys.decided(tenant, "rejected"),
                keys.decided(tenant, "unmoderated"),
                keys.recently_scored(tenant),
                keys.search_pending(tenant),
            ],
            args=[
                json.dumps(verdict.result),
                verdict.status,
                "" if verdict.priority is None else f"{verdict.priority:.3f}",
                stance or "",
                verdict.decision,
                f"{time.time():.3f}",
                json.dumps(verdict.audit or {}),
                verdict.webhook or "",
                webhook_url or "",
                keys.webhook_job(tenant, ""),
                "0" if verdict.decision == "allow" else "1",
                keys.author(tenant, ""),
                keys.queue(tenant, ""),
                keys.author_comments(tenant, ""),
                keys.RECENTLY_SCORED_MAX,
                model_version,
            ],
        )
        return int(reply) == 1

    async def revise(self, tenant: str, comment_id: str, edited: str) -> bool:
        """Replace a comment's text with its edit and score it again; False when the text is unchanged."""
        reply = text(
            await self._revise(
                keys=[
                    keys.comment(tenant, comment_id),
                    keys.ingest(tenant),
                    keys.claim(tenant, comment_id),
                    *(keys.queue(tenant, name) for name in QUEUES),
                    *(keys.decided(tenant, view) for view in DECIDED_VIEWS),
                ],
                args=[edited, f"{time.time():.3f}"],
            )
        )
        if reply == "not_found":
            raise NotFound(f"no comment {comment_id!r}")
        return reply == "ok"

    async def erase(
        self, tenant: str, comment_id: str, *, actor: str, reason: str = "", keep_waiting: bool = False
    ) -> bool:
        """Delete a comment's record and every trace of it in queues, views, threads and its author's page (the
        search index follows); False when it had been erased already, or (``keep_waiting``) when it waits in a queue
        for a moderator. Raises NotFound for an id never stored."""
        reply = text(
            await self._erase(
                keys=[
                    keys.comment(tenant, comment_id),
                    keys.claim(tenant, comment_id),
                    keys.erased(tenant),
                    keys.audit(tenant),
                    keys.events(tenant),
                    keys.recently_scored(tenant),
                    keys.search_pending(tenant),
                    keys.coral_ids(tenant),
                    keys.label_tally(tenant),
                    *(keys.queue(tenant, name) for name in QUEUES),
                    *(keys.decided(tenant, view) for view in DECIDED_VIEWS),
                ],
                args=[
                    comment_id,
                    f"{time.time():.3f}",
                    actor,
                    reason,
                    keys.thread(tenant, ""),
                    keys.author_comments(tenant, ""),
                    keys.queue(tenant, ""),
                    len(QUEUES),
                    "1" if keep_waiting else "0",
                ],
            )
        )
        if reply == "not_found":
            raise NotFound(f"no comment {comment_id!r}")
        return reply == "erased"

    async def get(self, tenant: str, comment_id: str) -> dict[str, str]:
        raw = await self.redis.hgetall(keys.comment(tenant, comment_id))
        if not raw:
            raise NotFound(f"no comment {comment_id!r}")
        return text_map(raw)

    async def get_many(self, tenant: str, comment_ids: list[str]) -> list[dict[str, str]]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in comment_ids:
                pipe.hgetall(keys.comment(tenant, cid))
            rows = await pipe.execute()
        return [text_map(row) for row in rows]

    async def report(self, tenant: str, comment_id: str, reason: str, priority: float) -> None:
        reply = await self._report(
            keys=[keys.comment(tenant, comment_id), keys.queue(tenant, Queue.REPORTED), keys.events(tenant)],
            args=[f"{priority:.3f}", reason, f"{time.time():.3f}", keys.queue(tenant, "")],
        )
        reply = text(reply)
        if reply == "not_found":
            raise NotFound(f"no comment {comment_id!r}")
        if reply == "not_scored":
            raise Conflict(f"comment {comment_id!r} has not been scored yet", code="not_scored")


async def parent_texts_of(records: Records, tenant: str, parent_ids: list[str]) -> dict[str, str]:
    """The stored text of each of these comments that Moderato holds (queued ones), by id."""
    if not parent_ids:
        return {}
    rows = await records.get_many(tenant, parent_ids)
    return {pid: row["text"] for pid, row in zip(parent_ids, rows, strict=True) if row.get("text")}
