"""One assembly of a process's runtime: the Redis pool, the model, the scorer with its batcher, the comment records
and the review queues. `moderato serve` (the API's lifespan) and `moderato worker` both open it here, so the two
cannot be put together differently."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from service.config import Settings
from service.heap import freeze_startup_heap
from service.metrics import Metrics
from service.moderation.policies import repair_former_fills
from service.moderation.queues import ReviewQueues
from service.moderation.records import Records
from service.moderation.search import SearchIndex
from service.moderation.worker import Worker, build_worker, install_signal_handlers
from service.redis_client import FAILURES, connect
from service.scoring.batcher import MicroBatcher
from service.scoring.factory import build_scorer
from service.scoring.scorer import ModelRunner, Scorer

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a process serves with; ``close`` finishes in-flight model batches before the pool goes."""

    settings: Settings
    metrics: Metrics
    redis: aioredis.Redis
    scorer: Scorer
    batcher: MicroBatcher[Any, Any]
    records: Records
    queues: ReviewQueues
    search: SearchIndex | None  # None: another replica keeps the index (settings.search_url)

    @classmethod
    async def open(cls, settings: Settings, metrics: Metrics, *, runner: ModelRunner | None = None) -> Runtime:
        """Connect to Redis, load the model (unless ``runner`` is given: tests share one) and start the batcher."""
        if not settings.redis_url:
            raise ValueError("the runtime needs settings.redis_url (the CLI starts the embedded Redis and sets it)")
        redis = await connect(settings.redis_url, settings)
        await _repair_stored_data(redis)
        if runner is None:
            from service.scoring.model_runner import PredictorRunner

            runner = await asyncio.to_thread(PredictorRunner, settings)
        scorer, batcher = build_scorer(settings, runner, redis, metrics)
        batcher.start()
        records = Records(
            redis,
            max_backlog=settings.max_backlog,
            retry_after_s=settings.backlog_retry_after_s,
            ack_replicas=settings.redis_ack_replicas,
            ack_timeout_ms=settings.redis_ack_timeout_ms,
        )
        queues = ReviewQueues(redis, records=records, settings=settings)
        if settings.gc_freeze:
            freeze_startup_heap()
        search = None if settings.search_url else await asyncio.to_thread(SearchIndex, settings.search_file)
        return cls(settings, metrics, redis, scorer, batcher, records, queues, search)

    def worker(self, *, name: str | None = None, burst: bool = False) -> Worker:
        return build_worker(
            self.settings, self.redis, self.scorer, self.records, name=name, burst=burst, search=self.search
        )

    async def close(self) -> None:
        await self.batcher.close()  # in-flight batches finish and answer before we go
        await self.redis.aclose()


async def _repair_stored_data(redis: aioredis.Redis) -> None:
    """One-time repairs of what older versions stored; Redis out of reach, the next start tries again."""
    try:
        await repair_former_fills(redis)
    except FAILURES as exc:
        log.warning("stored policies not checked for repair (%s); the next start tries again", type(exc).__name__)


async def run_worker_process(settings: Settings, *, name: str | None, burst: bool) -> Worker:
    """`moderato worker`: its own runtime (pool, model, batcher); stops gracefully on SIGTERM/SIGINT."""
    runtime = await Runtime.open(settings, Metrics())
    worker = runtime.worker(name=name, burst=burst)
    install_signal_handlers(worker)
    try:
        await worker.run()
    finally:
        await runtime.close()
    return worker
