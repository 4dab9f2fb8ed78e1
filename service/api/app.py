"""``create_app(settings)``: the only way to get the FastAPI app. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.api import errors
from service.api.auth import KeyRing
from service.api.middleware import BodyLimit, RequestContext
from service.api.routes import analyze, articles, audit, comments, health, queues
from service.config import Settings
from service.heap import freeze_startup_heap, watch_collections
from service.metrics import Metrics
from service.moderation.queues import ReviewQueues
from service.moderation.records import Records
from service.moderation.worker import build_worker
from service.redis_client import connect
from service.scoring.factory import build_scorer
from service.scoring.scorer import ModelRunner

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, runner: ModelRunner | None = None, keyring: KeyRing | None = None) -> FastAPI:
    """The API app.

    :param runner: the model; loaded from ``settings.model_dir`` at start-up when not given (tests share one).
    :param keyring: API keys; from settings when not given.
    """
    if not settings.redis_url:
        raise ValueError("create_app needs settings.redis_url (the CLI starts the embedded Redis and sets it)")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        assert settings.redis_url
        app.state.redis = await connect(settings.redis_url, settings)
        model = runner
        if model is None:
            from service.scoring.model_runner import PredictorRunner

            model = await asyncio.to_thread(PredictorRunner, settings)
        scorer, batcher = build_scorer(settings, model, app.state.redis, metrics)
        batcher.start()
        app.state.records = Records(
            app.state.redis, max_backlog=settings.max_backlog, retry_after_s=settings.backlog_retry_after_s
        )
        app.state.queues = ReviewQueues(app.state.redis, lease_s=settings.lease_s)
        worker = (
            build_worker(settings, app.state.redis, scorer, app.state.records) if settings.inprocess_worker else None
        )
        worker_task = asyncio.create_task(worker.run()) if worker else None
        app.state.scorer = scorer
        if settings.gc_freeze:
            freeze_startup_heap()
        stop_watching_gc = watch_collections(metrics.observe_gc)
        log.info("ready: model %s%s", scorer.model_version, ", with an in-process worker" if worker else "")
        try:
            yield
        finally:
            app.state.scorer = None
            stop_watching_gc()
            if worker and worker_task:
                worker.stop()  # finishes and acknowledges the batch in hand
                await worker_task
                await worker.webhooks.aclose()
            await batcher.close()  # in-flight batches finish and answer before we go
            await app.state.redis.aclose()

    app = FastAPI(
        title="Moderato",
        version="1",
        lifespan=lifespan,
        description="Self-hosted comment moderation: toxicity, toxic spans, stance, review queues.",
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.keyring = keyring if keyring is not None else KeyRing.from_settings(settings)
    app.state.scorer = None
    errors.install(app)
    for router in (analyze.router, articles.router, comments.router, queues.router, audit.router, health.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=metrics)
    return app
