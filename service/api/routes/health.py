"""Probes and metrics: /healthz (process up), /readyz (model loaded, Redis answering; live workers as detail),
/metrics (Prometheus)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from service import redis_keys as keys
from service.api.deps import StateDep
from service.api.schemas import HealthOut, ReadyOut
from service.moderation import worker_health
from service.moderation.records import registered_tenants

router = APIRouter(tags=["operations"])

READY_TIMEOUT_S = 1.0


@router.get("/healthz", response_model=HealthOut)
async def healthz() -> HealthOut:
    return HealthOut(status="ok")


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def readyz(state: StateDep) -> JSONResponse:
    runtime = state.runtime
    ready = ReadyOut(status="not_ready", model="loading", redis="unavailable: not connected")
    if runtime is not None:
        ready.model = runtime.scorer.model_version
        try:
            await asyncio.wait_for(runtime.redis.ping(), READY_TIMEOUT_S)
            ready.redis = "ok"
            ready.workers = await asyncio.wait_for(worker_health.live_workers(runtime.redis), READY_TIMEOUT_S)
        except (RedisError, OSError, TimeoutError) as exc:
            ready.redis = f"unavailable: {type(exc).__name__}"
    if ready.redis == "ok":
        ready.status = "ready"
    return JSONResponse(ready.model_dump(), status_code=200 if ready.status == "ready" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text exposition"}},
)
async def metrics(state: StateDep) -> Response:
    registry = state.metrics
    runtime = state.runtime
    try:  # the ingest backlog is read at scrape time: the stream length is exactly the unacknowledged work
        if runtime is not None:
            for tenant in await registered_tenants(runtime.redis):
                registry.queue_depth.labels(tenant).set(await runtime.redis.xlen(keys.ingest(tenant)))
            registry.set_workers(await worker_health.live_workers(runtime.redis))
    except (RedisError, OSError):
        pass  # /metrics still answers with everything else when Redis is down
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
