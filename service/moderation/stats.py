"""Viewpoint fairness: per stance label, how many comments were flagged, rejected by the model and rejected by
moderators, so a site can see whether dissent is removed more often than agreement."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.model.labels import STANCES
from service.redis_client import text_map

COUNTERS = ("total", "flagged", "model_rejected", "moderator_rejected")


async def fairness(redis: aioredis.Redis, tenant: str, article_id: str) -> dict[str, Any]:
    raw = {k: int(v) for k, v in text_map(await redis.hgetall(keys.fairness(tenant, article_id))).items()}
    by_stance = {}
    for stance in STANCES:
        counts = {c: raw.get(f"{stance}:{c}", 0) for c in COUNTERS}
        total = counts["total"]
        rates = {f"{c}_rate": round(counts[c] / total, 4) if total else None for c in COUNTERS[1:]}
        by_stance[stance] = {**counts, **rates}
    return {"article_id": article_id, "stances": by_stance}
