"""Review queues: listing with filters and cursors, claims under a lease, and moderator decisions."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.config import Settings
from service.contract import ACTIONS, DECIDED_VIEWS, ID_PATTERN, QUEUES, Queue
from service.errors import Conflict, InvalidInput, NotFound
from service.model.labels import UNSURE, counted_stance
from service.moderation.authors import COUNTERS, standing_of
from service.moderation.events import EVENT_LUA
from service.moderation.records import AUTHOR_LUA, WEBHOOK_LUA, Records
from service.moderation.rules import moderator_payloads, webhook_url
from service.redis_client import ReplicatedScript, text, text_map
from service.scoring.scorer import read_as_many

MAX_SCAN = 2000  # queue entries one listing call examines while applying filters

# KEYS[1] queue, KEYS[2] events. ARGV: claim key prefix, moderator, count, lease ms.
# Two moderators claiming at once: Redis runs one script at a time, and a comment is handed out only if
# SET NX on its claim key succeeds, so no comment can be leased twice. Expired leases simply vanish.
CLAIM = (
    EVENT_LUA
    + """
local want = tonumber(ARGV[3])
local got = {}
local start = 0
while #got < want do
  local ids = redis.call('ZRANGE', KEYS[1], start, start + 99)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    if redis.call('SET', ARGV[1] .. id, ARGV[2], 'NX', 'PX', ARGV[4]) then
      table.insert(got, id)
      emit(KEYS[2], 'claimed', id, 'moderator', ARGV[2])
      if #got >= want then break end
    end
  end
  start = start + 100
end
return got
"""
)

# KEYS[1] events. ARGV: claim key prefix, moderator, lease ms ('' = release), ids...
# Renewing or releasing touches only the leases this moderator still holds: a lease that ran out and went to a
# colleague is theirs now. Returns the ids acted on.
RENEW_OR_RELEASE = (
    EVENT_LUA
    + """
local done = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  if redis.call('GET', ARGV[1] .. id) == ARGV[2] then
    if ARGV[3] == '' then
      redis.call('DEL', ARGV[1] .. id)
      emit(KEYS[1], 'released', id, 'moderator', ARGV[2])
    else
      redis.call('PEXPIRE', ARGV[1] .. id, ARGV[3])
    end
    table.insert(done, id)
  end
end
return done
"""
)

# KEYS: comment, claim, review, escalated, reported, audit, webhook due, events, decision counts, decided approved,
# decided rejected, decided unmoderated.
# ARGV: moderator, action, reason, now, hook prefix, webhook url ('' = none), fairness key prefix, webhook body,
# audit entry (JSON, without the previous status and decision: read here, atomically with the checks), author prefix,
# queue key prefix, actor kind (the deciding key's role), reverse ('1': change a decided comment's decision).
DECIDE = (
    WEBHOOK_LUA
    + EVENT_LUA
    + AUTHOR_LUA
    + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'not_found'} end
if st == 'queued' or st == 'failed' then return {'not_scored'} end
local id = redis.call('HGET', KEYS[1], 'id')
local where = nil
for i = 3, 5 do
  if redis.call('ZSCORE', KEYS[i], id) then where = i end
end
-- A decided comment in no queue: a moderator may reverse the decision when asking to (ARGV[13]), with a reason
local reversal = false
if not where then
  if st ~= 'decided' or ARGV[2] == 'escalate' or ARGV[13] ~= '1' then return {'not_in_queue', st} end
  if ARGV[3] == '' then return {'reason_required'} end
  local current = redis.call('HGET', KEYS[1], 'decision') or ''
  local same = (ARGV[2] == 'reject') == (current == 'reject')
  if same then return {'unchanged', current} end
  reversal = true
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return {'claimed', holder} end
local previous = redis.call('HGET', KEYS[1], 'decision') or 'none'
local now = ARGV[4]
if ARGV[2] == 'escalate' then
  local score = redis.call('ZSCORE', KEYS[where], id)
  redis.call('ZREM', KEYS[3], id); redis.call('ZREM', KEYS[5], id)
  redis.call('ZADD', KEYS[4], score, id)
  redis.call('HSET', KEYS[1], 'queue', 'escalated', 'escalated_by', ARGV[1])
  emit_counted(KEYS[8], ARGV[11], 'queued', id, 'queue', 'escalated', 'moderator', ARGV[1])
else
  for i = 3, 5 do redis.call('ZREM', KEYS[i], id) end
  redis.call('HSET', KEYS[1], 'status', 'decided', 'decision', ARGV[2], 'decided_by', ARGV[1], 'decided_at', now,
             'decision_reason', ARGV[3], 'queue', '')
  redis.call('HDEL', KEYS[1], 'escalated_by')
  -- a reversal's label replaces the decision it reverses (service/moderation/labels.py)
  if reversal then redis.call('HSET', KEYS[1], 'reversed', '1') else redis.call('HDEL', KEYS[1], 'reversed') end
  -- Fairness counts comments, not decisions: a comment rejected, reported and rejected again is one rejection,
  -- and one approved after a rejection is none. 'fair_rejected' remembers whether this comment is counted.
  -- A moderator's decision supersedes the model's: a comment the model rejected leaves the model's column the
  -- first time a moderator decides it ('fair_model_superseded'), so it is never counted in both.
  local stance = redis.call('HGET', KEYS[1], 'stance_label') or ''
  local counted = redis.call('HGET', KEYS[1], 'fair_rejected') == '1'
  local rejected = ARGV[2] == 'reject'
  local article = redis.call('HGET', KEYS[1], 'article_id') or '-'
  if stance ~= '' and counted ~= rejected then
    redis.call('HINCRBY', ARGV[7] .. article, stance .. ':moderator_rejected', rejected and 1 or -1)
    redis.call('HSET', KEYS[1], 'fair_rejected', rejected and '1' or '0')
  end
  if stance ~= '' and redis.call('HGET', KEYS[1], 'model_decision') == 'reject'
      and redis.call('HGET', KEYS[1], 'fair_model_superseded') ~= '1' then
    redis.call('HINCRBY', ARGV[7] .. article, stance .. ':model_rejected', -1)
    redis.call('HSET', KEYS[1], 'fair_model_superseded', '1')
  end
  count_rejection(KEYS[1], ARGV[10], rejected)
  for i = 10, 12 do redis.call('ZREM', KEYS[i], id) end
  redis.call('ZADD', rejected and KEYS[11] or KEYS[10], now, id)
  enqueue_webhook(KEYS[1], KEYS[7], ARGV[5], ARGV[6], ARGV[8], now)
  emit_counted(KEYS[8], ARGV[11], 'decided', id, 'decision', ARGV[2], 'moderator', ARGV[1])
end
redis.call('DEL', KEYS[2])
redis.call('HINCRBY', KEYS[9], ARGV[12] .. ':' .. ARGV[2], 1)
local entry = cjson.decode(ARGV[9])
entry['previous_status'] = st
entry['previous_decision'] = previous
if reversal then entry['reversal'] = '1' end
local flat = {}
for k, v in pairs(entry) do table.insert(flat, k); table.insert(flat, v) end
redis.call('XADD', KEYS[6], '*', unpack(flat))
return {'ok', previous}
"""
)


@dataclass(frozen=True)
class QueuePage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    unsure: int = 0  # comments this page passed over whose stance leaned the filtered way, unsurely


class ReviewQueues:
    """Review queues of all tenants on one Redis pool.

    :param records: the comment records (a decision reads the comment it applies to).
    :param settings: the claim lease (``lease_s``) and the tenants' webhooks.
    """

    def __init__(self, redis: aioredis.Redis, *, records: Records, settings: Settings) -> None:
        self.redis = redis
        self.records = records
        self.settings = settings
        self.lease_s = settings.lease_s
        self._claim = redis.register_script(CLAIM)
        # a moderator's decision is acknowledged once the replicas asked for hold it
        self._decide = ReplicatedScript(
            redis, DECIDE, replicas=settings.redis_ack_replicas, timeout_ms=settings.redis_ack_timeout_ms
        )
        self._renew_or_release = redis.register_script(RENEW_OR_RELEASE)

    @staticmethod
    def check_queue(name: str) -> None:
        if name not in QUEUES:
            raise NotFound(f"no queue {name!r}; queues are {', '.join(QUEUES)}")

    async def claim(self, tenant: str, queue: str, moderator: str, count: int, lease_s: int | None) -> list[str]:
        self.check_queue(queue)
        lease_ms = int((lease_s or self.lease_s) * 1000)
        ids = await self._claim(
            keys=[keys.queue(tenant, queue), keys.events(tenant)],
            args=[keys.claim(tenant, ""), moderator, count, lease_ms],
        )
        return [text(i) for i in ids]

    async def renew(self, tenant: str, moderator: str, comment_ids: list[str], lease_s: int | None) -> list[str]:
        """Extend this moderator's leases on these comments; returns those still held (and now extended)."""
        return await self._leases(tenant, moderator, comment_ids, str(int((lease_s or self.lease_s) * 1000)))

    async def release(self, tenant: str, moderator: str, comment_ids: list[str]) -> list[str]:
        """Give back this moderator's leases on these comments; returns those released."""
        return await self._leases(tenant, moderator, comment_ids, "")

    async def _leases(self, tenant: str, moderator: str, comment_ids: list[str], lease_ms: str) -> list[str]:
        if not comment_ids:
            return []
        done = await self._renew_or_release(
            keys=[keys.events(tenant)], args=[keys.claim(tenant, ""), moderator, lease_ms, *comment_ids]
        )
        return [text(i) for i in done]

    async def page(
        self, tenant: str, queue: str, *, cursor: str | None, limit: int
    ) -> tuple[list[tuple[str, float]], str | None]:
        """Up to ``limit`` entries (at most MAX_SCAN) after the cursor ("score:id"), in review order, and whether
        more remain."""
        self.check_queue(queue)
        low, after_id = ("-inf", None) if not cursor else parse_cursor(cursor)
        limit = min(limit, MAX_SCAN)
        # entries sharing the cursor's score come back too and are skipped below: read that many more
        extra = 0 if after_id is None else int(await self.redis.zcount(keys.queue(tenant, queue), low, low))
        rows = await self.redis.zrangebyscore(
            keys.queue(tenant, queue), low, "+inf", start=0, num=limit + extra + 1, withscores=True
        )
        entries = [(text(m), float(s)) for m, s in cast(list[tuple[bytes, float]], rows)]
        if after_id is not None:  # skip the cursor's own entry and its equal-score predecessors
            entries = [(m, s) for m, s in entries if s > float(low) or m > after_id]
        more = len(entries) > limit
        return entries[:limit], ("more" if more else None)

    async def counts(self, tenant: str) -> dict[str, int]:
        """How many comments wait in each queue."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in QUEUES:
                pipe.zcard(keys.queue(tenant, name))
            sizes = await pipe.execute()
        return dict(zip(QUEUES, (int(n) for n in sizes), strict=True))

    async def claims(self, tenant: str, comment_ids: list[str]) -> list[str | None]:
        if not comment_ids:
            return []
        held = await self.redis.mget([keys.claim(tenant, c) for c in comment_ids])
        return [text(h) if h else None for h in held]

    async def decide(
        self,
        tenant: str,
        comment_id: str,
        *,
        moderator: str,
        action: str,
        reason: str,
        actor_kind: str = "moderator",
        reverse: bool = False,
    ) -> str:
        """Apply a moderator's action (``actor_kind``: the deciding key's role, for the decision counts); returns the
        previous decision."""
        if action not in ACTIONS:
            raise InvalidInput(f"decision must be one of {ACTIONS}", code="invalid_decision")
        # The payloads read the comment's scores, thread and callback URL, which never change once it is scored;
        # everything that can change (status, queue, claim) is checked inside the script.
        record = await self.records.get(tenant, comment_id)
        now = time.time()
        webhook, audit = moderator_payloads(record, moderator=moderator, action=action, reason=reason, now=now)
        reply = await self._decide(
            keys=[
                keys.comment(tenant, comment_id),
                keys.claim(tenant, comment_id),
                keys.queue(tenant, Queue.REVIEW),
                keys.queue(tenant, Queue.ESCALATED),
                keys.queue(tenant, Queue.REPORTED),
                keys.audit(tenant),
                keys.webhook_due(tenant),
                keys.events(tenant),
                keys.decision_counts(tenant),
                *(keys.decided(tenant, view) for view in DECIDED_VIEWS),
            ],
            args=[
                moderator,
                action,
                reason,
                f"{now:.3f}",
                keys.webhook_job(tenant, ""),
                webhook_url(record, self.settings, tenant) or "",
                keys.fairness(tenant, ""),
                webhook,
                json.dumps(audit),
                keys.author(tenant, ""),
                keys.queue(tenant, ""),
                actor_kind,
                "1" if reverse else "",
            ],
        )
        status, *rest = [text(r) for r in reply]
        if status == "ok":
            return str(rest[0])
        if status == "not_found":
            raise NotFound(f"no comment {comment_id!r}")
        if status == "claimed":
            raise Conflict(f"comment {comment_id!r} is claimed by {rest[0]}", code="claimed_by_other")
        if status == "not_scored":
            raise Conflict(f"comment {comment_id!r} has not been scored yet", code="not_scored")
        if status == "reason_required":
            raise InvalidInput("reversing a decision needs a reason", code="reason_required")
        if status == "unchanged":
            raise Conflict(f"comment {comment_id!r} is already decided that way ({rest[0]})", code="unchanged")
        raise Conflict(
            f"comment {comment_id!r} is not waiting in a review queue (status {rest[0]})", code="not_in_queue"
        )


_CURSOR = re.compile(r"^(-?\d{1,20}(?:\.\d{1,20})?(?:[eE][-+]?\d{1,3})?):(" + ID_PATTERN[1:-1] + r")$")


def parse_cursor(cursor: str) -> tuple[str, str]:
    """A queue cursor ("score:id", as a page's ``next_cursor`` gives it) as (score, id); anything else is a 400."""
    match = _CURSOR.match(cursor)
    if not match or not math.isfinite(float(match.group(1))):
        raise InvalidInput("bad cursor: pass a page's next_cursor back unchanged", code="invalid_cursor")
    return match.group(1), match.group(2)


def parse_result(record: dict[str, str]) -> dict[str, Any] | None:
    raw = record.get("result")
    return json.loads(raw) if raw else None


def queue_item(comment_id: str, priority: float, record: dict[str, str], claimed_by: str | None) -> dict[str, Any]:
    result = parse_result(record) or {}
    return {
        "id": comment_id,
        "text": record.get("text", ""),
        "thread_id": record.get("thread_id"),
        "article_id": record.get("article_id"),
        "author_id": record.get("author_id"),
        "author_name": record.get("author_name"),
        "parent_id": record.get("parent_id"),
        "status": record.get("status"),
        "scores": result.get("scores", {}),
        "spans": result.get("spans", []),
        "stance": result.get("stance"),
        "stance_to_parent": result.get("stance_to_parent"),
        "reasons": result.get("reasons", []),
        "reports": int(record.get("reports", "0")),
        "last_report": record.get("last_report") or None,
        "received_at": float(record.get("received_at", "0")),
        "priority": priority,
        "claimed_by": claimed_by,
    }


async def claimed_items(
    queues: ReviewQueues, tenant: str, queue: str, moderator: str, comment_ids: list[str]
) -> list[dict[str, Any]]:
    """The comments just leased to ``moderator``, as queue items with their priority and context."""
    if not comment_ids:
        return []
    rows = await queues.records.get_many(tenant, comment_ids)
    scores = await queues.redis.zmscore(keys.queue(tenant, queue), comment_ids)
    items = [
        queue_item(cid, float(score or 0.0), row, moderator)
        for cid, row, score in zip(comment_ids, rows, scores, strict=True)
    ]
    return await with_context(queues.redis, tenant, items)


async def with_context(redis: aioredis.Redis, tenant: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item with what a moderator weighs beside the text: its author's record (comments, flagged, rejected,
    standing), its article's title, and what the model also read where the comment disguises or borrows its words
    ("fck you": "fuck you"; null where it is read as written), so a moderator sees why a harmless-looking comment was
    held. Two pipelined reads per page, whatever its length; the reading only for the items shown."""
    async with redis.pipeline(transaction=False) as pipe:
        for item in items:
            pipe.hgetall(keys.author(tenant, item["author_id"] or "-"))
            pipe.hget(keys.article(tenant, item["article_id"] or "-"), "title")
        replies = await pipe.execute()
    now = time.time()
    readings = await read_as_many([item["text"] for item in items])
    for i, item in enumerate(items):
        record, title = text_map(replies[2 * i]), replies[2 * i + 1]
        standing = standing_of(record, now)
        item["author"] = (
            {**{k: int(record.get(k, "0")) for k in COUNTERS}, "standing": standing.standing if standing else None}
            if item["author_id"]
            else None
        )
        item["article_title"] = text(title) if title else None
        item["read_as"] = readings[i]
    return items


def matches(
    item: dict[str, Any],
    *,
    thread: str | None,
    attribute: str | None,
    stance: str | None,
    stance_to_parent: str | None = None,
) -> bool:
    if thread and item["thread_id"] != thread:
        return False
    if attribute and not any(r.startswith(f"{attribute} ") for r in item["reasons"]):
        return False
    # a stance filter means a confident label: an unsure `disagree` is not a disagreement to act on
    if stance_to_parent and counted_stance(item["stance_to_parent"]) != stance_to_parent:
        return False
    return not (stance and counted_stance(item["stance"]) != stance)


def leans(item: dict[str, Any], *, stance: str | None, stance_to_parent: str | None) -> bool:
    """Whether the item's stance labels are the filtered ones but at least one of them is unsure."""
    pairs = [(item["stance"], stance), (item["stance_to_parent"], stance_to_parent)]
    wanted = [(answer, label) for answer, label in pairs if label]
    return (
        bool(wanted)
        and all((a or {}).get("label") == label for a, label in wanted)
        and any(counted_stance(a) == UNSURE for a, _ in wanted)
    )


@dataclass(frozen=True)
class Filters:
    """What a moderator narrows a list to: a thread, an attribute (a reason names it), a confident stance."""

    thread: str | None = None
    attribute: str | None = None
    stance: str | None = None
    stance_to_parent: str | None = None

    def __bool__(self) -> bool:
        return bool(self.thread or self.attribute or self.stance or self.stance_to_parent)

    def admit(self, item: dict[str, Any]) -> bool:
        return matches(item, thread=self.thread, attribute=self.attribute, stance=self.stance,
                       stance_to_parent=self.stance_to_parent)  # fmt: skip

    def passes_over_unsure(self, item: dict[str, Any]) -> bool:
        """An item left out only because its stance leaned the filtered way unsurely."""
        if not (self.stance or self.stance_to_parent):
            return False
        loose = matches(item, thread=self.thread, attribute=self.attribute, stance=None, stance_to_parent=None)
        return loose and leans(item, stance=self.stance, stance_to_parent=self.stance_to_parent)


async def _fill_page(
    queues: ReviewQueues,
    tenant: str,
    entries: list[tuple[str, float]],
    more: bool,
    *,
    limit: int,
    filters: Filters,
    item_of: Any,
    claims: bool,
) -> QueuePage:
    """The page of ``entries`` (in order) that pass ``filters``, read in chunks, with the cursor after its last."""
    items: list[dict[str, Any]] = []
    unsure = 0
    last: tuple[str, float] | None = None
    step = 200 if filters else limit
    for start in range(0, len(entries), step):
        chunk = entries[start : start + step]
        rows = await queues.records.get_many(tenant, [cid for cid, _ in chunk])
        held = await queues.claims(tenant, [cid for cid, _ in chunk]) if claims else [None] * len(chunk)
        for (cid, score), row, claimed_by in zip(chunk, rows, held, strict=True):
            last = (cid, score)
            item = item_of(cid, score, row, claimed_by)
            if row and filters.admit(item):
                items.append(item)
                if len(items) == limit:
                    return QueuePage(await with_context(queues.redis, tenant, items), f"{score!r}:{cid}", unsure)
            elif row and filters.passes_over_unsure(item):
                unsure += 1
    next_cursor = f"{last[1]!r}:{last[0]}" if more and last else None
    return QueuePage(await with_context(queues.redis, tenant, items), next_cursor, unsure)


async def list_queue(
    queues: ReviewQueues, tenant: str, queue: str, *, cursor: str | None, limit: int, filters: Filters = Filters()
) -> QueuePage:
    """A page of a review queue in review order, filtered by thread, attribute (a reason names it) or stance."""
    # Unfiltered, a page is its first `limit` entries: read no more of the queue or the records than it shows.
    entries, more = await queues.page(tenant, queue, cursor=cursor, limit=MAX_SCAN if filters else limit)
    return await _fill_page(
        queues, tenant, entries, bool(more), limit=limit, filters=filters, item_of=queue_item, claims=True
    )


async def list_decided(
    queues: ReviewQueues, tenant: str, view: str, *, cursor: str | None, limit: int, filters: Filters = Filters()
) -> QueuePage:
    """A page of decided comments, newest decision first, with the same filters as the queues; the cursor is the
    last entry's "TIME:ID"."""
    key = keys.decided(tenant, view)
    high, before_id = ("+inf", None) if not cursor else parse_cursor(cursor)
    want = MAX_SCAN if filters else limit
    extra = 0 if before_id is None else int(await queues.redis.zcount(key, high, high))
    rows = await queues.redis.zrevrangebyscore(key, high, "-inf", start=0, num=want + extra + 1, withscores=True)
    entries = [(text(m), float(s)) for m, s in cast(list[tuple[bytes, float]], rows)]
    if before_id is not None:  # skip the cursor's own entry and the equal-time entries before it
        entries = [(m, s) for m, s in entries if s < float(high) or m < before_id]
    return await _fill_page(
        queues, tenant, entries[:want], len(entries) > want, limit=limit, filters=filters,
        item_of=lambda cid, at, row, _: decided_item(cid, at, row), claims=False,
    )  # fmt: skip


def decided_item(comment_id: str, decided_at: float, record: dict[str, str]) -> dict[str, Any]:
    """A decided comment: what the queues show, and its decision, who took it, when and why."""
    return {
        **queue_item(comment_id, decided_at, record, None),
        "decision": record.get("decision"),
        "decided_by": record.get("decided_by"),
        "decided_at": float(record.get("decided_at") or decided_at),
        "decision_reason": record.get("decision_reason") or None,
    }
