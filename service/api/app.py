"""``create_app(settings)``: the only way to get the FastAPI app. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from service.api import errors
from service.api.auth import KeyRing
from service.api.middleware import BodyLimit, RequestContext
from service.api.routes import analyze, articles, health
from service.config import Settings
from service.metrics import Metrics
from service.redis_client import connect
from service.scoring.articles import ArticleStore
from service.scoring.batcher import MicroBatcher
from service.scoring.cache import FloodCounter, ResultCache
from service.scoring.scorer import ArticleJob, ModelRunner, Scorer

log = logging.getLogger(__name__)


def build_scorer(
    settings: Settings, runner: Any, redis: Any, metrics: Metrics
) -> tuple[Scorer, MicroBatcher[Any, Any]]:
    """The scorer and its batcher on one Redis pool and one model (shared by the API and the workers)."""
    batcher: MicroBatcher[Any, Any] = MicroBatcher(
        runner.run,
        max_items=settings.batch_max_items,
        max_wait_ms=settings.batch_max_wait_ms,
        on_batch=metrics.observe_batch,
    )

    async def encode(title: str, body: str) -> Any:
        (state,) = await batcher.submit_many([ArticleJob(title, body)])
        return state

    store = ArticleStore(
        redis,
        model_version=runner.version,
        ttl_s=settings.article_ttl_s,
        metrics=metrics,
        encode=encode,
        to_bytes=runner.state_to_bytes,
        from_bytes=runner.state_from_bytes,
    )
    scorer = Scorer(
        settings=settings,
        runner=runner,
        batcher=batcher,
        cache=ResultCache(redis, ttl_s=settings.cache_ttl_s, metrics=metrics),
        flood=FloodCounter(redis, window_s=settings.flood_window_s, metrics=metrics),
        articles=store,
        metrics=metrics,
    )
    return scorer, batcher


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
        app.state.scorer = scorer
        log.info("ready: model %s", scorer.model_version)
        try:
            yield
        finally:
            app.state.scorer = None
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
    for router in (analyze.router, articles.router, health.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=metrics)
    return app
