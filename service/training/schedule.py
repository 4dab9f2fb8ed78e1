"""The learn job on a schedule (``MODERATO_LEARN_EVERY_S``), beside a worker: every period, each tenant that has
been given at least ``learn_min_new_labels`` labels since its last candidate gets one, learned and gated as
``moderato learn`` does, and promoted only when ``learn_promote`` is set and its gate passed.

One worker at a time runs a tenant's job (a Redis lease that outlives the job's budget); the job runs in a thread,
so the worker's event loop keeps scoring while it trains (the two share the CPU: run it on a worker with room, or
at night). A job that fails is logged and tried again next period; it never stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Any

from service import redis_keys as keys
from service.config import Settings
from service.moderation.labels import tenant_labels
from service.moderation.records import registered_tenants
from service.redis_client import FAILURES, stop_if_cancelled, text_map
from service.training.gate import GateOptions
from service.training.learning import BudgetSpent, LearnOptions, NotEnoughLabels, learn_for_tenant

log = logging.getLogger(__name__)


def options(settings: Settings, tenant: str) -> LearnOptions:
    assert settings.learn_data is not None  # the settings refuse a schedule without it
    return LearnOptions(
        tenant=tenant,
        start=settings.model_dir,
        root=settings.models_root,
        data=settings.learn_data,
        budget_s=settings.learn_budget_s,
        gate=GateOptions(),
    )


async def learn_due(redis: Any, settings: Settings, tenant: str, holder: str) -> dict[str, Any] | None:
    """Run the tenant's job if enough new labels came and no other worker holds it; its report, or None."""
    labels = len(await tenant_labels(redis, tenant))
    last = text_map(await redis.hgetall(keys.learn_state(tenant)))
    if labels - int(last.get("labels", "0")) < settings.learn_min_new_labels:
        return None
    lease_s = int(settings.learn_budget_s) + 600
    if not await redis.set(keys.learn_lease(tenant), holder, nx=True, ex=lease_s):
        return None
    try:
        report = await learn_for_tenant(
            redis, settings, tenant, options(settings, tenant), promote=settings.learn_promote
        )
        state = {"labels": labels, "at": f"{time.time():.3f}", "candidate": report["id"], "status": report["status"]}
        await redis.hset(keys.learn_state(tenant), mapping=state)
        return report
    finally:
        await redis.delete(keys.learn_lease(tenant))


async def learn_on_schedule(redis: Any, settings: Settings) -> None:
    """Until cancelled: every learn_every_s, each due tenant's job in turn."""
    holder = f"{socket.gethostname()}-{os.getpid()}"
    while True:
        # a cancellation redis-py swallowed mid-command reads as "Redis unreachable": without this the loop went on
        # logging that every period, and the worker it runs beside never exited on SIGTERM (a test hung on it)
        stop_if_cancelled()
        await asyncio.sleep(settings.learn_every_s)
        try:
            tenants = await registered_tenants(redis)
        except FAILURES as exc:
            log.warning("scheduled learning skipped this period: Redis unreachable (%s)", type(exc).__name__)
            continue
        for tenant in tenants:
            try:
                report = await learn_due(redis, settings, tenant, holder)
            except (NotEnoughLabels, BudgetSpent) as exc:
                log.info("scheduled learning for %s: %s", tenant, exc)
                await redis.hset(keys.learn_state(tenant), mapping={"at": f"{time.time():.3f}", "status": str(exc)})
            except asyncio.CancelledError:
                raise
            except Exception:  # one tenant's failure must not stop the schedule or the worker
                log.exception("scheduled learning for %s failed; it is tried again next period", tenant)
            else:
                if report is not None:
                    log.info("scheduled learning for %s: %s %s", tenant, report["id"], report["status"])
