"""`moderato worker`: scores queued comments from every tenant's ingest stream.

At-least-once: a message is acknowledged (and deleted from the stream, so the stream length is the backlog) only
after its result is stored; result writes are idempotent, so a redelivery changes nothing. A worker that dies
leaves its messages pending; any other worker takes them over with XAUTOCLAIM once they have been idle for
``claim_idle_ms``. A message delivered more than ``max_deliveries`` times goes to the tenant's dead-letter stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from service import redis_keys as keys
from service.config import Settings
from service.contract import Status
from service.moderation import authors, worker_health
from service.moderation.erasure import RetentionLoop, index_authors
from service.moderation.records import Records, parent_texts_of, registered_tenants
from service.moderation.rules import model_verdict, webhook_url
from service.moderation.search import SearchIndex, SearchIndexer
from service.moderation.webhooks import WebhookLoop, build_sender
from service.redis_client import UNAVAILABLE, is_cluster, stop_if_cancelled, text
from service.scoring.scorer import CommentError, CommentIn, ScoredComment, Scorer

log = logging.getLogger(__name__)

HEALTH_EVERY_S = 5.0  # well inside redis_keys.WORKER_HEALTH_TTL_S
TENANTS_EVERY_S = 2.0
WEBHOOK_EVERY_S = 0.5
REDIS_RETRY_S = 1.0
IDLE_POLL_MIN_S = 0.02  # on a cluster, the first wait after a round that found nothing
IDLE_POLL_MAX_S = 0.2


@dataclass
class Message:
    tenant: str
    stream_id: str
    comment_id: str


# The comment's hash is written only where it still exists: a comment erased while its batch was failing
# (DELETE /v1/comments/{id}) must not come back as a hash holding an error and nothing else.
# KEYS[1] comment. ARGV[1] the error.
NOTE_ERROR = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'error', ARGV[1]) end
"""
# KEYS: dead-letter stream, comment, ingest stream. ARGV: comment id, error, worker, now, stream id, ack (1/0), group.
DEAD_LETTER = """
redis.call('XADD', KEYS[1], '*', 'comment_id', ARGV[1], 'error', ARGV[2], 'worker', ARGV[3], 'at', ARGV[4])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('HSET', KEYS[2], 'status', 'failed', 'error', ARGV[2]) end
if ARGV[6] == '1' then
  redis.call('XACK', KEYS[3], ARGV[7], ARGV[5])
  redis.call('XDEL', KEYS[3], ARGV[5])
end
"""


class Worker:
    """
    :param name: consumer name in the group (unique per process).
    :param batch: most messages read per stream per round.
    :param claim_idle_ms: a pending message idle this long is taken over from its (presumed dead) consumer.
    :param max_deliveries: deliveries after which a message is dead-lettered.
    :param burst: exit once every stream is empty and nothing is pending (tests, benchmarks).
    """

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        scorer: Scorer,
        records: Records,
        settings: Settings,
        name: str | None = None,
        batch: int = 64,
        claim_idle_ms: int = 30_000,
        max_deliveries: int = 5,
        burst: bool = False,
        search: SearchIndex | None = None,
    ) -> None:
        self.redis = redis
        self.scorer = scorer
        self.records = records
        self.settings = settings
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.batch = batch
        self.claim_idle_ms = claim_idle_ms
        self.max_deliveries = max_deliveries
        self.burst = burst
        self.tenants: list[str] = []
        self.scored = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.taken_over = 0
        sender = build_sender(redis, settings)
        self.webhooks = WebhookLoop(sender, tenants=lambda: self.tenants, every_s=WEBHOOK_EVERY_S)
        self.indexer = SearchIndexer(redis, search) if search is not None else None
        days = settings.retention_days
        self.retention = (
            RetentionLoop(records, days=days, every_s=settings.retention_every_s, tenants=lambda: self.tenants)
            if days is not None
            else None
        )
        self._stopping = asyncio.Event()
        self._idle_s = 0.0
        self._note_error = redis.register_script(NOTE_ERROR)
        self._dead_letter_script = redis.register_script(DEAD_LETTER)

    def __repr__(self) -> str:
        return (
            f"Worker({self.name!r}, scored={self.scored}, duplicates={self.duplicates}, "
            f"taken_over={self.taken_over}, dead_lettered={self.dead_lettered}, {self.webhooks!r})"
        )

    def counters(self) -> dict[str, int]:
        """What the health key and /metrics report."""
        sender = self.webhooks.sender
        return {
            "scored": self.scored,
            "duplicates": self.duplicates,
            "taken_over": self.taken_over,
            "dead_lettered": self.dead_lettered,
            "webhooks_delivered": sender.delivered,
            "webhooks_failed": sender.failed,
            "webhooks_dead": sender.dead,
        }

    def stop(self) -> None:
        """Graceful: finish the batch in hand, acknowledge it, then exit."""
        self._stopping.set()

    async def run(self) -> None:
        log.info("worker %s starting (burst=%s)", self.name, self.burst)
        side = [
            asyncio.create_task(self._health_loop()),
            asyncio.create_task(self.webhooks.run()),
            asyncio.create_task(self._author_index_loop()),
        ]
        if self.indexer is not None:
            side.append(asyncio.create_task(self.indexer.run(lambda: self.tenants)))
        if self.retention is not None:
            side.append(asyncio.create_task(self.retention.run()))
        try:
            last_tenants = 0.0
            while not self._stopping.is_set():
                try:
                    if time.monotonic() - last_tenants > TENANTS_EVERY_S:
                        await self._refresh_tenants()
                        last_tenants = time.monotonic()
                    did = await self._take_over() + await self._read_new()
                    if self.burst and did == 0 and await self._drained():
                        break
                except UNAVAILABLE as exc:
                    # Redis restarting (it reloads its append-only file): wait and carry on; nothing acknowledged
                    # is lost, and what was in hand is redelivered.
                    log.warning("redis unavailable (%s); retrying in %.0f s", exc, REDIS_RETRY_S)
                    await asyncio.sleep(REDIS_RETRY_S)
                    continue
                if not self.tenants:
                    await asyncio.sleep(0.2)
        finally:
            for task in side:
                task.cancel()
            await asyncio.gather(*side, return_exceptions=True)
            with contextlib.suppress(*UNAVAILABLE):
                if self.burst:
                    await self.webhooks.round()
                    await self._index_all()
                await worker_health.forget(self.redis, self.name)
            await self.webhooks.sender.aclose()
            log.info("worker stopped: %r", self)

    async def _index_all(self) -> None:
        """Burst mode's end: everything this run stored is searchable before the worker exits."""
        if self.indexer is not None:
            for tenant in self.tenants:
                while await self.indexer.run_once(tenant):
                    pass

    async def _refresh_tenants(self) -> None:
        tenants = await registered_tenants(self.redis)
        for tenant in set(tenants) - set(self.tenants):
            try:
                await self.redis.xgroup_create(keys.ingest(tenant), keys.INGEST_GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self.tenants = tenants

    async def _read_new(self) -> int:
        if not self.tenants:
            return 0
        if is_cluster(self.redis):
            messages = await self._read_each_tenant()
        else:
            streams: dict[Any, Any] = {keys.ingest(t): ">" for t in self.tenants}
            reply = await self.redis.xreadgroup(keys.INGEST_GROUP, self.name, streams, count=self.batch, block=1000)
            messages = _messages(reply)
        await self._process(messages)
        return len(messages)

    async def _read_each_tenant(self) -> list[Message]:
        """On a cluster each tenant's stream lives on its own slot, and one XREADGROUP may not span slots: read
        every stream without blocking, at once, and when all are empty wait a little longer each time (20 ms
        growing to 200 ms: a new comment waits at most that long for a worker that has been idle)."""
        replies = await asyncio.gather(
            *(
                self.redis.xreadgroup(keys.INGEST_GROUP, self.name, {keys.ingest(t): ">"}, count=self.batch)
                for t in self.tenants
            )
        )
        messages = [m for reply in replies for m in _messages(reply)]
        self._idle_s = 0.0 if messages else min(max(self._idle_s * 2, IDLE_POLL_MIN_S), IDLE_POLL_MAX_S)
        if not messages:
            await asyncio.sleep(self._idle_s)
        return messages

    async def _take_over(self) -> int:
        """Claim messages a dead worker left pending; dead-letter those delivered too often."""
        taken: list[Message] = []
        for tenant in self.tenants:
            stream = keys.ingest(tenant)
            _, claimed, *_ = await self.redis.xautoclaim(
                stream, keys.INGEST_GROUP, self.name, self.claim_idle_ms, start_id="0-0", count=self.batch
            )
            for mid, fields in claimed:
                if fields is None:  # deleted meanwhile
                    continue
                message = Message(tenant, text(mid), text(fields[b"id"]))
                info = await self.redis.xpending_range(stream, keys.INGEST_GROUP, min=mid, max=mid, count=1)
                deliveries = int(info[0]["times_delivered"]) if info else 1
                if deliveries > self.max_deliveries:
                    await self._dead_letter(message, f"delivered {deliveries} times without completing")
                else:
                    taken.append(message)
        if taken:
            self.taken_over += len(taken)
            log.info("took over %d pending messages", len(taken))
            await self._process(taken)
        return len(taken)

    async def _process(self, messages: list[Message]) -> None:
        by_tenant: dict[str, list[Message]] = {}
        for m in messages:
            by_tenant.setdefault(m.tenant, []).append(m)
        for tenant, batch in by_tenant.items():
            try:
                await self._process_tenant(tenant, batch)
            except UNAVAILABLE:
                raise  # Redis, not the batch: the run loop waits it out, and the batch is redelivered
            except Exception as exc:  # left pending: retried after claim_idle_ms, dead-lettered if it keeps failing
                log.exception("batch of %d for %s failed; left pending for retry", len(batch), tenant)
                for m in batch:
                    await self._note_error(keys=[keys.comment(tenant, m.comment_id)], args=[repr(exc)[:2000]])

    async def _process_tenant(self, tenant: str, batch: list[Message]) -> None:
        records = await self.records.get_many(tenant, [m.comment_id for m in batch])
        todo = [(m, r) for m, r in zip(batch, records, strict=True) if r.get("status") == Status.QUEUED]
        self.duplicates += len(batch) - len(todo)
        if todo:
            parents = await parent_texts_of(
                self.records, tenant, sorted({r["parent_id"] for _, r in todo if r.get("parent_id")})
            )
            comments = [
                CommentIn(r["id"], r["text"], r.get("article_id"), parents.get(r.get("parent_id") or ""))
                for _, r in todo
            ]
            outcomes = await self.scorer.analyze(tenant, comments, store=True)
            held = await self._premoderated(tenant, [r for _, r in todo])
            heat = await self._heat(tenant, [r for _, r in todo])
            standing = await authors.standings(self.redis, tenant, [r.get("author_id") for _, r in todo])
            for (m, record), outcome, hold, h, s in zip(todo, outcomes, held, heat, standing, strict=True):
                await self._store(tenant, m, record, outcome, hold, h, s)
        async with self.redis.pipeline(transaction=True) as pipe:
            ids = [m.stream_id for m in batch]
            pipe.xack(keys.ingest(tenant), keys.INGEST_GROUP, *ids)
            pipe.xdel(keys.ingest(tenant), *ids)
            await pipe.execute()

    async def _store(
        self,
        tenant: str,
        message: Message,
        record: dict[str, str],
        outcome: ScoredComment | CommentError,
        premoderated: bool,
        heat: int,
        standing: str | None,
    ) -> None:
        if isinstance(outcome, CommentError):
            await self._dead_letter(message, f"{outcome.code}: {outcome.message}", ack=False)
            return
        verdict = model_verdict(
            outcome, record, premoderated=premoderated, heat=heat, now=time.time(), standing=standing
        )
        stored = await self.records.store_result(
            tenant,
            outcome.id,
            verdict,
            article_id=record.get("article_id"),
            webhook_url=webhook_url(record, self.settings, tenant),
            model_version=outcome.model,
        )
        if stored:
            self.scored += 1
        else:
            self.duplicates += 1

    async def _premoderated(self, tenant: str, records: list[dict[str, str]]) -> list[bool]:
        held = {text(m) for m in await self.redis.smembers(keys.premoderated(tenant))}
        return [bool(held & {r.get("thread_id"), r.get("article_id")} - {None}) for r in records]

    async def _heat(self, tenant: str, records: list[dict[str, str]]) -> list[int]:
        """Comments per minute in each comment's thread (this minute's count, this comment included)."""
        minute = int(time.time() // 60)
        async with self.redis.pipeline(transaction=False) as pipe:
            for r in records:
                key = keys.heat(tenant, r.get("thread_id") or "-", minute)
                pipe.incr(key)
                pipe.expire(key, keys.HEAT_TTL_S)
            replies = await pipe.execute()
        return [int(replies[i * 2]) for i in range(len(records))]

    async def _dead_letter(self, message: Message, error: str, ack: bool = True) -> None:
        self.dead_lettered += 1
        tenant = message.tenant
        await self._dead_letter_script(
            keys=[keys.dead_letter(tenant), keys.comment(tenant, message.comment_id), keys.ingest(tenant)],
            args=[
                message.comment_id,
                error[:2000],
                self.name,
                f"{time.time():.3f}",
                message.stream_id,
                int(ack),
                keys.INGEST_GROUP,
            ],
        )
        log.warning("dead-lettered %s/%s: %s", message.tenant, message.comment_id, error)

    async def _drained(self) -> bool:
        for tenant in self.tenants:
            if await self.redis.xlen(keys.ingest(tenant)):
                return False
            if await self.redis.zcard(keys.webhook_due(tenant)):  # deliveries still scheduled, retries included
                return False
        return True

    async def _author_index_loop(self) -> None:
        """Once per tenant: records stored before every comment was indexed by its author join their author's index,
        so erasing an author stops scanning the keyspace (erasure.index_authors)."""
        indexed: set[str] = set()
        while True:
            stop_if_cancelled()
            for tenant in [t for t in self.tenants if t not in indexed]:
                with contextlib.suppress(*UNAVAILABLE):  # tried again on the next round
                    if not await self.redis.exists(keys.authors_indexed(tenant)):
                        added = await index_authors(self.redis, tenant)
                        log.info("%s: %d older comments joined their authors' indexes", tenant, added)
                    indexed.add(tenant)
            await asyncio.sleep(TENANTS_EVERY_S)

    async def _health_loop(self) -> None:
        while True:
            stop_if_cancelled()
            with contextlib.suppress(*UNAVAILABLE):
                await worker_health.beat(self.redis, self.name, self.counters())
            await asyncio.sleep(HEALTH_EVERY_S)


def _messages(reply: Any) -> list[Message]:
    return [
        Message(_tenant_of(text(stream)), text(mid), text(fields[b"id"]))
        for stream, entries in cast(list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]], reply or [])
        for mid, fields in entries
    ]


def _tenant_of(stream_key: str) -> str:
    # mod:{tenant}:ingest
    return stream_key.split("{", 1)[1].rsplit("}", 1)[0]


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)


def build_worker(
    settings: Settings,
    redis: aioredis.Redis,
    scorer: Scorer,
    records: Records,
    *,
    name: str | None = None,
    burst: bool = False,
    search: SearchIndex | None = None,
) -> Worker:
    """A worker on an existing pool, scorer and records (the runtime's, in `moderato serve` and `moderato worker`)."""
    return Worker(
        redis=redis,
        scorer=scorer,
        records=records,
        settings=settings,
        name=name,
        batch=settings.worker_batch,
        claim_idle_ms=settings.claim_idle_ms,
        max_deliveries=settings.max_deliveries,
        burst=burst,
        search=search,
    )
