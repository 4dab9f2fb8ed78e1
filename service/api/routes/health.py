"""Probes and metrics: /healthz (process up), /readyz (model loaded and Redis answering), /metrics."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from service.moderation import keys
from service.moderation.records import registered_tenants

router = APIRouter(tags=["operations"])

READY_TIMEOUT_S = 1.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    scorer = getattr(request.app.state, "scorer", None)
    checks = {"model": scorer.model_version if scorer else "loading", "redis": "ok"}
    try:
        await asyncio.wait_for(request.app.state.redis.ping(), READY_TIMEOUT_S)
    except (RedisError, OSError, TimeoutError, AttributeError) as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = scorer is not None and checks["redis"] == "ok"
    return JSONResponse({"status": "ready" if ready else "not_ready", **checks}, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics
    try:  # the ingest backlog is read at scrape time: the stream length is exactly the unacknowledged work
        redis = request.app.state.redis
        for tenant in await registered_tenants(redis):
            registry.queue_depth.labels(tenant).set(await redis.xlen(keys.ingest(tenant)))
    except (RedisError, OSError, AttributeError):
        pass  # /metrics still answers with everything else when Redis is down
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)
