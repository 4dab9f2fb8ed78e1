"""Probes and metrics: /healthz (process up), /readyz (model loaded, Redis answering; live workers as detail),
/metrics (Prometheus)."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import redis_keys as keys
from service.api.deps import StateDep
from service.api.errors import AuthError
from service.api.schemas import ErrorEnvelope, HealthOut, ReadyOut
from service.api.state import AppState
from service.contract import QUEUES
from service.moderation import worker_health
from service.moderation.records import registered_tenants
from service.redis_client import FAILURES, text_map

router = APIRouter(tags=["operations"])

READY_TIMEOUT_S = 1.0


@router.get("/healthz", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def healthz(state: StateDep) -> JSONResponse:
    """Liveness: the process answers, and Redis has not been out of reach for longer than
    MODERATO_HEALTH_REDIS_GRACE_S (a process that cannot serve should be restarted, not left looking green)."""
    outage = state.outage
    if state.runtime is not None:
        try:
            await asyncio.wait_for(state.runtime.redis.ping(), READY_TIMEOUT_S)
            outage.recovered()
        except FAILURES as exc:
            outage.failed(exc)
    down_s = outage.down_for()
    if down_s > state.settings.health_redis_grace_s:
        return JSONResponse(HealthOut(status=f"redis unreachable for {down_s:.0f} s").model_dump(), status_code=503)
    return JSONResponse(HealthOut(status="ok").model_dump())


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
async def readyz(state: StateDep, request: Request) -> JSONResponse:
    """Readiness: the model loaded and Redis answering. Live workers are counted for every caller; their names,
    hosts and counters only for a caller who may read /metrics (the metrics token or an admin key, where set)."""
    runtime = state.runtime
    ready = ReadyOut(status="not_ready", model="loading", redis="unavailable: not connected")
    if runtime is not None:
        ready.model = runtime.scorer.model_version
        try:
            await asyncio.wait_for(runtime.redis.ping(), READY_TIMEOUT_S)
            ready.redis = "ok"
            state.outage.recovered()
            workers = await asyncio.wait_for(worker_health.live_workers(runtime.redis), READY_TIMEOUT_S)
            ready.workers_live = len(workers)
            ready.workers = workers if _may_read_metrics(state, request) else []
        except FAILURES as exc:
            ready.redis = f"unavailable: {type(exc).__name__}"
    if ready.redis == "ok":
        ready.status = "ready"
    return JSONResponse(ready.model_dump(), status_code=200 if ready.status == "ready" else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}, "description": "Prometheus text"},
        401: {"model": ErrorEnvelope},
        403: {"model": ErrorEnvelope},
    },
)
async def metrics(state: StateDep, request: Request) -> Response:
    check_metrics_access(state, request.headers.get("authorization", ""))
    registry = state.metrics
    runtime = state.runtime
    try:  # the ingest backlog is read at scrape time: the stream length is exactly the unacknowledged work
        if runtime is not None:
            decisions = {}
            for tenant in await registered_tenants(runtime.redis):
                async with runtime.redis.pipeline(transaction=False) as pipe:  # one round trip per tenant
                    pipe.xlen(keys.ingest(tenant))
                    for queue in QUEUES:
                        pipe.zcard(keys.queue(tenant, queue))
                    pipe.hgetall(keys.decision_counts(tenant))
                    ingest, *depths, counts = await pipe.execute()
                registry.queue_depth.labels(tenant).set(ingest)
                for queue, depth in zip(QUEUES, depths, strict=True):
                    registry.review_depth.labels(tenant, queue).set(depth)
                decisions[tenant] = {k: int(v) for k, v in text_map(counts).items()}
            registry.set_decisions(decisions)
            registry.set_workers(await worker_health.live_workers(runtime.redis))
    except FAILURES:
        pass  # /metrics still answers with everything else when Redis is down
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_LATEST)


def _may_read_metrics(state: AppState, request: Request) -> bool:
    try:
        check_metrics_access(state, request.headers.get("authorization", ""))
    except AuthError:
        return False
    return True


def check_metrics_access(state: AppState, authorization: str) -> None:
    """/metrics names tenants: with a token configured (or in production) it needs that token or an admin key."""
    token = state.settings.metrics_token
    if token is None and state.settings.environment != "production":
        return
    scheme, _, presented = authorization.partition(" ")
    presented = presented.strip() if scheme.lower() == "bearer" else ""
    if token is not None and presented and hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        return
    principal = state.keyring.lookup(presented) if presented else None
    if principal is None:
        raise AuthError("/metrics needs the metrics token or an admin key", status=401)
    if principal.role != "admin":
        raise AuthError("/metrics needs the metrics token or an admin key", status=403)
