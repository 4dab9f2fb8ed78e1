"""``create_app(settings)``: the only way to get the FastAPI app. Nothing is built at import time."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from service import ui
from service.api import errors
from service.api.auth import KeyRing
from service.api.compat import coral, discovery, openai_moderations, perspective
from service.api.middleware import BodyLimit, RequestContext, TrustedProxies
from service.api.rate_limits import RateLimits
from service.api.routes import (
    accounts,
    analyze,
    articles,
    audit,
    authors,
    claims,
    comments,
    deadletter,
    decided,
    events,
    fairness,
    health,
    models,
    moderate,
    policy,
    premoderation,
    queues,
    search,
    threads,
)
from service.api.sessions import Sessions
from service.api.state import AppState
from service.config import Settings
from service.heap import watch_collections
from service.metrics import Metrics
from service.moderation.accounts import Accounts
from service.moderation.events import EventHub
from service.runtime import Runtime
from service.scoring.scorer import ModelRunner

log = logging.getLogger(__name__)

ROUTERS = (
    analyze,
    accounts,
    articles,
    comments,
    queues,
    decided,
    claims,
    events,
    threads,
    audit,
    deadletter,
    fairness,
    premoderation,
    authors,
    policy,
    models,
    search,
    health,
    moderate,
)
COMPAT = (perspective, discovery, openai_moderations, coral)  # other APIs' shapes, with their own error shapes


# A graceful stop of the in-process worker waits this long for the batch in hand; past it the worker is cancelled.
# Nothing is lost: a batch not acknowledged stays pending in Redis and another worker takes it over.
WORKER_STOP_S = 20.0


async def _stop_within(task: asyncio.Task[None], seconds: float) -> None:
    """Wait for a stopping task, at most ``seconds``; then cancel it (and say where it was stuck), so a shutdown
    never hangs on it."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        return
    frames = "".join(traceback.format_stack(task.get_stack(limit=8)[-1])) if task.get_stack() else "?"
    log.warning("the in-process worker did not stop within %.0f s; cancelling it (stuck at %s)", seconds, frames)
    task.cancel()
    await asyncio.wait({task}, timeout=seconds)


def create_app(settings: Settings, *, runner: ModelRunner | None = None, keyring: KeyRing | None = None) -> FastAPI:
    """The API app.

    :param runner: the model; loaded from ``settings.model_dir`` at start-up when not given (tests share one).
    :param keyring: API keys; from settings when not given.
    """
    if not settings.redis_url:
        raise ValueError("create_app needs settings.redis_url (the CLI starts the embedded Redis and sets it)")
    state = AppState(settings, Metrics(), keyring if keyring is not None else KeyRing.from_settings(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = await Runtime.open(settings, state.metrics, runner=runner)
        worker = runtime.worker() if settings.inprocess_worker else None
        worker_task = asyncio.create_task(worker.run()) if worker else None
        state.rate_limits = RateLimits(settings, runtime.redis, state.metrics)
        state.accounts = Accounts(
            runtime.redis,
            lockout_failures=settings.account_lockout_failures,
            lockout_s=settings.account_lockout_s,
            taken_names=state.keyring.names,
        )
        state.sessions = Sessions(runtime.redis, state.keyring, settings, state.accounts)
        state.events = EventHub(runtime.redis)
        state.runtime = runtime
        stop_watching_gc = watch_collections(state.metrics.observe_gc)
        log.info("ready: model %s%s", runtime.scorer.model_version, ", with an in-process worker" if worker else "")
        try:
            yield
        finally:
            state.runtime = None
            if state.events is not None:
                await state.events.close()
            stop_watching_gc()
            if worker and worker_task:
                worker.stop()  # finishes and acknowledges the batch in hand
                await _stop_within(worker_task, WORKER_STOP_S)
            await runtime.close()

    app = FastAPI(
        title="Moderato",
        version="1",
        lifespan=lifespan,
        description="Self-hosted comment moderation: toxicity, toxic spans, stance, review queues.",
        docs_url=None,  # FastAPI's own /docs loads Swagger UI from a CDN: blank on a machine with no internet
        redoc_url=None,
    )
    _offline_docs(app)
    app.state.moderato = state
    errors.install(app)
    for module in ROUTERS:
        app.include_router(module.router, responses=errors.ERROR_RESPONSES)
    for compat in COMPAT:
        app.include_router(compat.router, responses=errors.COMPAT_ERROR_RESPONSES)
    app.mount(ui.STATIC_PATH, StaticFiles(directory=ui.STATIC_DIR), name="moderate-static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext, metrics=state.metrics)
    app.add_middleware(TrustedProxies, trusted=settings.forwarded_allow_ips, hops=settings.proxy_hops)
    return app


DOCS_ASSETS = "/docs-assets"


def _offline_docs(app: FastAPI) -> None:
    """Interactive API docs at /docs with Swagger UI's files served from the `swagger-ui-bundle` package."""
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="Moderato API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )
