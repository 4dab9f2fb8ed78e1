"""`moderato export-labels`: moderators' approve/reject decisions, and scores suggested through Perspective's
comments:suggestscore, as training rows.

The file has the columns of the shared data's identity set (``id, text, toxic``) and is read by the training
loader as ``toxicity/moderator_labels.csv.gz``. Comments sent with ``store: false`` were never recorded, so they
cannot appear.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.moderation.records import registered_tenants
from service.redis_client import text, text_map

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
            rows += await _suggested(redis, tenant, writer)
    return rows


SUGGESTED_BY = "perspective-suggestscore"
TOXIC_NAMES = ("TOXICITY", "TOXICITY_EXPERIMENTAL")  # the suggestions that say whether a comment is toxic


async def _suggested(redis: aioredis.Redis, tenant: str, writer: Any) -> int:
    """Suggestions that score toxicity: toxic when the suggested probability is at least one half."""
    rows = 0
    for entry_id, fields in await redis.xrange(keys.suggested_scores(tenant)) or []:
        entry = text_map(fields)
        scores = json.loads(entry.get("scores", "{}"))
        value = next((scores[n] for n in TOXIC_NAMES if n in scores), None)
        if value is None:
            continue
        writer.writerow(
            [f"suggested-{text(entry_id)}", entry["text"], int(value >= 0.5), tenant, SUGGESTED_BY, json.dumps(scores)]
        )
        rows += 1
    return rows
