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
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.contract import MODEL_ACTOR, Queue
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


LABEL_VIEWS = ("approved", "rejected")  # the decided views that hold people's decisions


async def _decided_id_chunks(redis: aioredis.Redis, tenant: str) -> AsyncIterator[list[str]]:
    """The ids of the comments people decided, oldest first per view, READ_CHUNK at a time (one pipeline each)."""
    for view in LABEL_VIEWS:
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
# Comments decided up to this long before the last count are read again: another replica's clock may lag this one's.
TALLY_OVERLAP_S = 120.0


async def label_counts(redis: aioredis.Redis, tenant: str) -> dict[str, dict[str, int]]:
    """Per source: how many labels, and how many of them toxic (the admin's view).

    Counted from a tally of each decided comment's label (keys.label_tally), brought up to date first: the comments
    decided since the last count, and those in the reported queue (a report makes a decided comment's label a
    report's without a new decision); when the tally and the views hold different numbers of comments (the first
    count, an erasure, an edit), the difference too. So a count reads what changed since the last one, not every
    decided comment (bench/label_counts.py)."""
    started = time.time()
    await _bring_tally_up_to_date(redis, tenant)
    await redis.set(keys.label_tally_at(tenant), f"{started:.3f}")
    out: dict[str, dict[str, int]] = {}

    def count(source: str, toxic: int, n: int = 1) -> None:
        row = out.setdefault(source, {"labels": 0, "toxic": 0})
        row["labels"] += n
        row["toxic"] += toxic * n

    codes = Counter(text(code) for code in await redis.hvals(keys.label_tally(tenant)))
    for code, n in codes.items():
        if code:
            source, toxic = code.split(":")
            count(source, int(toxic), n)
    for label in await _suggestion_labels(redis, tenant):
        count(label.source, label.toxic)
    return out


async def _bring_tally_up_to_date(redis: aioredis.Redis, tenant: str) -> None:
    tally = keys.label_tally(tenant)
    last = await redis.get(keys.label_tally_at(tenant))
    if last is not None:
        since = float(text(last)) - TALLY_OVERLAP_S
        changed: set[str] = set()
        for view in LABEL_VIEWS:
            changed |= _texts(await redis.zrangebyscore(keys.decided(tenant, view), since, "+inf"))
        reported = _texts(await redis.zrange(keys.queue(tenant, Queue.REPORTED), 0, -1))
        changed |= await _decided_among(redis, tenant, reported)
        await _tally(redis, tenant, sorted(changed))
    in_views = sum([await redis.zcard(keys.decided(tenant, view)) for view in LABEL_VIEWS])
    if last is None or in_views != await redis.hlen(tally):
        decided = {comment_id async for ids in _decided_id_chunks(redis, tenant) for comment_id in ids}
        known = _texts(await redis.hkeys(tally))
        gone = sorted(known - decided)
        for start in range(0, len(gone), READ_CHUNK):
            await redis.hdel(tally, *gone[start : start + READ_CHUNK])
        await _tally(redis, tenant, sorted(decided - known))


async def _decided_among(redis: aioredis.Redis, tenant: str, ids: set[str]) -> set[str]:
    """Those of ``ids`` that are in a view of people's decisions."""
    ordered = sorted(ids)
    async with redis.pipeline(transaction=False) as pipe:
        for comment_id in ordered:
            for view in LABEL_VIEWS:
                pipe.zscore(keys.decided(tenant, view), comment_id)
        scores = await pipe.execute()
    n = len(LABEL_VIEWS)
    return {c for i, c in enumerate(ordered) if any(s is not None for s in scores[i * n : (i + 1) * n])}


async def _tally(redis: aioredis.Redis, tenant: str, ids: list[str]) -> None:
    """Write each comment's label code: what a label's source and class need, and of the text only its length (up
    to 20 KB a comment, never sent to count it)."""
    for start in range(0, len(ids), READ_CHUNK):
        chunk = ids[start : start + READ_CHUNK]
        async with redis.pipeline(transaction=False) as pipe:
            for comment_id in chunk:
                pipe.hmget(keys.comment(tenant, comment_id), list(COUNTED_FIELDS))
                pipe.hstrlen(keys.comment(tenant, comment_id), "text")
            replies = await pipe.execute()
        codes: dict[Any, Any] = {}
        for comment_id, row, length in zip(chunk, replies[::2], replies[1::2], strict=True):
            record = {k: text(v) for k, v in zip(COUNTED_FIELDS, row, strict=True) if v is not None}
            label = decision_label(tenant, {**record, "text": "x" if length else ""})
            codes[comment_id] = "" if label is None else f"{label.source}:{label.toxic}"
        if codes:
            await redis.hset(keys.label_tally(tenant), mapping=codes)


def _texts(raw: Any) -> set[str]:
    return {text(item) for item in raw}
