"""`moderato export-labels`: moderators' approve/reject decisions as training rows.

The file has the columns of the shared data's identity set (``id, text, toxic``) and is read by the training
loader as ``toxicity/moderator_labels.csv.gz``. Comments sent with ``store: false`` were never recorded, so they
cannot appear.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.moderation.records import registered_tenants
from service.redis_client import text_map

HEADER = ["id", "text", "toxic", "tenant", "decided_by", "reason"]


async def export_labels(redis: aioredis.Redis, out: Path, tenants: list[str] | None = None) -> int:
    """Write every human approve/reject decision; returns the number of rows."""
    names = tenants or await registered_tenants(redis)
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for tenant in names:
            async for key in redis.scan_iter(match=keys.comment(tenant, "*"), count=500):
                record = text_map(await redis.hgetall(key))
                if record.get("decided_by", "model") == "model" or record.get("decision") not in ("approve", "reject"):
                    continue
                writer.writerow(
                    [
                        record["id"],
                        record["text"],
                        int(record["decision"] == "reject"),
                        tenant,
                        record["decided_by"],
                        record.get("decision_reason", ""),
                    ]
                )
                rows += 1
    return rows
