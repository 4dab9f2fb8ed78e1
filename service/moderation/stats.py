"""Viewpoint fairness: per stance label, how many comments were flagged, rejected by the model and rejected by
moderators, so a site can see whether dissent is removed more often than agreement. Only confident labels are
counted as their label; unsure ones are counted apart (``unsure``), so a wrong label cannot skew a rate unseen."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.model.labels import STANCES, UNSURE
from service.redis_client import text_map

COUNTERS = ("total", "flagged", "model_rejected", "moderator_rejected")


async def fairness(redis: aioredis.Redis, tenant: str, article_id: str) -> dict[str, Any]:
    raw = {k: int(v) for k, v in text_map(await redis.hgetall(keys.fairness(tenant, article_id))).items()}
    return {
        "article_id": article_id,
        "stances": {stance: _counts(raw, stance) for stance in STANCES},
        "unsure": _counts(raw, UNSURE),
    }


def _counts(raw: dict[str, int], label: str) -> dict[str, Any]:
    counts = {c: raw.get(f"{label}:{c}", 0) for c in COUNTERS}
    total = counts["total"]
    return {**counts, **{f"{c}_rate": round(counts[c] / total, 4) if total else None for c in COUNTERS[1:]}}
