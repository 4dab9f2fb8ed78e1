"""A tenant's labels, with their provenance: what its people said about comments, as rows a model can learn from.

Three sources, read where they already live (nothing is written twice):

- a moderator's approve/reject (``moderator``), a reversal of an earlier decision (``reversal``: it replaces the
  decision it reverses, as the record keeps only the latest), and a moderator's decision on a comment readers
  reported (``report``: the report's outcome, upheld or dismissed), from the decided views and the comment records;
- Perspective ``comments:suggestscore`` (``suggestscore``): one label per attribute Moderato has a name for,
  toxic when the suggested probability is at least one half.

Each label says when it was given, which model version had scored the comment (``model``, empty for comments
scored before versions were recorded) and the attribute it speaks to: a suggested score's own attribute, or one a
moderator's reason names ("insult", "threat: rule 4"); otherwise toxicity. Comments sent with ``store: false``
were never recorded, so they are never labels.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.contract import MODEL_ACTOR
from service.model.labels import ATTRIBUTES
from service.redis_client import text, text_map

SOURCES = ("moderator", "reversal", "report", "suggestscore")
SUGGESTED_BY = "perspective-suggestscore"
TOXIC_NAMES = ("TOXICITY", "TOXICITY_EXPERIMENTAL")  # older suggestion entries kept Perspective's names only
READ_CHUNK = 500
# An attribute a moderator's free-text reason names: "insult", "identity attack", "Severe toxicity", "obscene".
_NAMED = re.compile(r"\b(" + "|".join(a.replace("_", "[ _-]") for a in ATTRIBUTES) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Label:
    """:param toxic: 1 when the comment should not stand (rejected, a report upheld, a suggested score >= 0.5)."""

    tenant: str
    id: str
    text: str
    toxic: int
    source: str
    at: float
    model: str
    attribute: str
    by: str
    reason: str = ""


def named_attribute(reason: str) -> str:
    """The attribute a moderator's reason names (the first), else toxicity."""
    match = _NAMED.search(reason)
    return re.sub(r"[ -]", "_", match.group(1).lower()) if match else "toxicity"


def decision_label(tenant: str, record: dict[str, str]) -> Label | None:
    """A person's approve/reject on a recorded comment as a label; None for the model's own decisions."""
    by = record.get("decided_by", MODEL_ACTOR)
    if by == MODEL_ACTOR or record.get("decision") not in ("approve", "reject") or not record.get("text"):
        return None
    if record.get("reversed") == "1":
        source = "reversal"
    elif int(record.get("reports", "0") or 0) > 0:
        source = "report"
    else:
        source = "moderator"
    reason = record.get("decision_reason", "")
    return Label(
        tenant,
        record["id"],
        record["text"],
        int(record["decision"] == "reject"),
        source,
        float(record.get("decided_at", "0") or 0),
        record.get("model_version", ""),
        named_attribute(reason),
        by,
        reason,
    )


def suggestion_labels(tenant: str, entry_id: str, entry: dict[str, str]) -> list[Label]:
    attributes = json.loads(entry.get("attributes") or "{}")
    if not attributes:  # written before suggestions kept Moderato's names
        scores = json.loads(entry.get("scores") or "{}")
        found = [scores[n] for n in TOXIC_NAMES if n in scores]
        attributes = {"toxicity": found[0]} if found else {}
    at = float(entry.get("at") or int(entry_id.split("-")[0]) / 1000)
    return [
        Label(
            tenant,
            f"suggested-{entry_id}" + ("" if attribute == "toxicity" else f"-{attribute}"),
            entry["text"],
            int(value >= 0.5),
            "suggestscore",
            at,
            entry.get("model", ""),
            attribute,
            SUGGESTED_BY,
            json.dumps({attribute: value}),
        )
        for attribute, value in attributes.items()
        if attribute in ATTRIBUTES
    ]


async def _decided_id_chunks(redis: aioredis.Redis, tenant: str) -> AsyncIterator[list[str]]:
    """The ids of the comments people decided, oldest first per view, READ_CHUNK at a time (one pipeline each)."""
    for view in ("approved", "rejected"):
        ids = [text(i) for i in cast(list[bytes], await redis.zrange(keys.decided(tenant, view), 0, -1))]
        for start in range(0, len(ids), READ_CHUNK):
            yield ids[start : start + READ_CHUNK]


async def _suggestion_labels(redis: aioredis.Redis, tenant: str) -> list[Label]:
    entries = await redis.xrange(keys.suggested_scores(tenant)) or []
    return [
        label for entry_id, fields in entries for label in suggestion_labels(tenant, text(entry_id), text_map(fields))
    ]


async def decision_labels(redis: aioredis.Redis, tenant: str) -> AsyncIterator[Label]:
    """People's decisions, oldest first (the decided views are ordered by decision time)."""
    async for ids in _decided_id_chunks(redis, tenant):
        async with redis.pipeline(transaction=False) as pipe:
            for comment_id in ids:
                pipe.hgetall(keys.comment(tenant, comment_id))
            records = await pipe.execute()
        for record in records:
            label = decision_label(tenant, text_map(record))
            if label is not None:
                yield label


async def tenant_labels(redis: aioredis.Redis, tenant: str) -> list[Label]:
    """Every label of the tenant, in the order they were given."""
    labels = [label async for label in decision_labels(redis, tenant)] + await _suggestion_labels(redis, tenant)
    return sorted(labels, key=lambda label: label.at)


COUNTED_FIELDS = ("id", "decided_by", "decision", "reversed", "reports", "decided_at")


async def label_counts(redis: aioredis.Redis, tenant: str) -> dict[str, dict[str, int]]:
    """Per source: how many labels, and how many of them toxic (the admin's view). Reads only the fields a label's
    source and class need, and of the text only its length (up to 20 KB a comment, never sent to count it)."""
    out: dict[str, dict[str, int]] = {}

    def count(label: Label | None) -> None:
        if label is not None:
            row = out.setdefault(label.source, {"labels": 0, "toxic": 0})
            row["labels"] += 1
            row["toxic"] += label.toxic

    async for ids in _decided_id_chunks(redis, tenant):
        async with redis.pipeline(transaction=False) as pipe:
            for comment_id in ids:
                pipe.hmget(keys.comment(tenant, comment_id), list(COUNTED_FIELDS))
                pipe.hstrlen(keys.comment(tenant, comment_id), "text")
            replies = await pipe.execute()
        for row, length in zip(replies[::2], replies[1::2], strict=True):
            record = {k: text(v) for k, v in zip(COUNTED_FIELDS, row, strict=True) if v is not None}
            count(decision_label(tenant, {**record, "text": "x" if length else ""}))
    for label in await _suggestion_labels(redis, tenant):
        count(label)
    return out
