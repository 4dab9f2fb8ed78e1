"""Assemble the scorer (batcher, result cache with its flood counter, article store) on one Redis pool and one
model; used by the API and by workers alike."""

from __future__ import annotations

from typing import Any

from service.config import Settings
from service.metrics import Metrics
from service.model.calibration import Calibration
from service.scoring.articles import ArticleStore
from service.scoring.batcher import MicroBatcher
from service.scoring.cache import ResultCache
from service.scoring.live_policy import LivePolicies
from service.scoring.scorer import ArticleJob, Scorer, job_cost
from service.scoring.serving import ServingModels


def build_batcher(settings: Settings, runner: Any, on_batch: Any = None) -> MicroBatcher[Any, Any]:
    """The model's batcher as the service runs it: its streams, fair lanes per tenant, work-bounded batches."""
    return MicroBatcher(
        runner.run,
        max_items=settings.batch_max_items,
        max_wait_ms=settings.batch_max_wait_ms,
        on_batch=on_batch,
        streams=settings.stream_layout()[0],
        cost=job_cost,  # tenants share model time by windows read, and a batch holds batch_max_windows of them
        max_cost=settings.batch_max_windows,
        on_idle=getattr(runner, "release_memory", None),
        # after a burst (a few full batches of long text), not after every comment: trimming the heap costs the
        # model thread it runs on, and a stream of short requests leaves nothing to give back
        idle_after_cost=4 * settings.batch_max_windows,
        short_streams=settings.short_work_streams,  # a short comment never waits behind a neighbour's long ones
    )


def build_scorer(
    settings: Settings, runner: Any, redis: Any, metrics: Metrics
) -> tuple[Scorer, MicroBatcher[Any, Any]]:
    """The scorer and its batcher on one Redis pool and one model (shared by the API and the workers)."""
    batcher = build_batcher(settings, runner, on_batch=metrics.observe_batch)

    async def encode(title: str, body: str) -> Any:
        (state,) = await batcher.submit_many([ArticleJob(title, body)])
        return state

    from service.model.checkpoint import TOKENIZER  # the article's tokens are cut by it: part of its cache key

    store = ArticleStore(
        redis,
        model_version=f"{runner.version}+tokenizer:{TOKENIZER}",
        ttl_s=settings.article_ttl_s,
        metrics=metrics,
        encode=encode,
        to_bytes=runner.state_to_bytes,
        from_bytes=runner.state_from_bytes,
    )
    calibration = Calibration.load(settings.model_dir) if settings.calibrated_scores else None
    scorer = Scorer(
        settings=settings,
        runner=runner,
        batcher=batcher,
        cache=ResultCache(redis, ttl_s=settings.cache_ttl_s, flood_window_s=settings.flood_window_s, metrics=metrics),
        articles=store,
        metrics=metrics,
        policies=LivePolicies(redis, settings, calibration),
        models=ServingModels(redis, runner, calibration, settings.models_root, metrics),
        calibration=calibration,
    )
    return scorer, batcher
