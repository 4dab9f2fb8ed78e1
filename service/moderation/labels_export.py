"""`moderato export-labels`: every tenant's labels (service/moderation/labels.py) as training rows.

The file starts with the columns of the shared data's identity set (``id, text, toxic``) and is read by the training
loader as ``toxicity/moderator_labels.csv.gz``; the provenance follows (tenant, who, the reason, the source, when,
the model version that scored the comment, and the attribute the label speaks to).
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import redis.asyncio as aioredis

from service.moderation.labels import tenant_labels
from service.moderation.records import registered_tenants

HEADER = ["id", "text", "toxic", "tenant", "decided_by", "reason", "source", "at", "model", "attribute"]


async def export_labels(redis: aioredis.Redis, out: Path, tenants: list[str] | None = None) -> int:
    """Write every label of these tenants (default: all); returns the number of rows."""
    names = tenants or await registered_tenants(redis)
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for tenant in names:
            for label in await tenant_labels(redis, tenant):
                writer.writerow(
                    [
                        label.id,
                        label.text,
                        label.toxic,
                        label.tenant,
                        label.by,
                        label.reason,
                        label.source,
                        f"{label.at:.3f}",
                        label.model,
                        label.attribute,
                    ]
                )
                rows += 1
    return rows
