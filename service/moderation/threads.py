"""A thread as moderators read it: its comments in arrival order with their parents, each with what the model
found, and, per comment, how its replies answer it: how many agree and disagree, and how toxic the disagreeing ones
are. A comment that draws many hostile disagreements is being piled on, a signal no hosted API gives."""

from __future__ import annotations

import json
from typing import Any, cast

from service import redis_keys as keys
from service.model.labels import UNSURE, counted_stance
from service.moderation.records import Records
from service.redis_client import text
from service.scoring.scorer import read_as_many

MAX_COMMENTS = 2000  # one listing's most comments


async def thread_view(records: Records, tenant: str, thread_id: str, *, limit: int) -> dict[str, Any]:
    """The first ``limit`` comments of a thread with their replies' stance summary."""
    members = await records.redis.zrange(keys.thread(tenant, thread_id), 0, min(limit, MAX_COMMENTS) - 1)
    ids = [text(m) for m in cast(list[bytes], members)]
    rows = await records.get_many(tenant, ids)
    comments = [_comment(cid, row) for cid, row in zip(ids, rows, strict=True) if row]
    for comment, reading in zip(comments, await read_as_many([c["text"] for c in comments]), strict=True):
        comment["read_as"] = reading
    article_ids = sorted({c["article_id"] for c in comments if c["article_id"]} | {thread_id})
    async with records.redis.pipeline(transaction=False) as pipe:
        pipe.sismember(keys.premoderated(tenant), thread_id)
        for article_id in article_ids:
            pipe.hget(keys.article(tenant, article_id), "title")
        held, *titles = await pipe.execute()
    articles = [
        {"id": a, "title": text(t) if t else None}
        for a, t in zip(article_ids, titles, strict=True)
        if t or any(c["article_id"] == a for c in comments)
    ]
    return {
        "thread_id": thread_id,
        "premoderated": bool(held),
        "articles": articles,
        "comments": with_reply_summaries(comments),
    }


def _comment(comment_id: str, row: dict[str, str]) -> dict[str, Any]:
    result = json.loads(row["result"]) if row.get("result") else {}
    return {
        "id": comment_id,
        "parent_id": row.get("parent_id"),
        "author_id": row.get("author_id"),
        "author_name": row.get("author_name"),
        "article_id": row.get("article_id"),
        "text": row.get("text", ""),
        "status": row.get("status", "queued"),
        "decision": row.get("decision") or result.get("decision"),
        "queue": row.get("queue") or None,
        "scores": result.get("scores", {}),
        "spans": result.get("spans", []),
        "reasons": result.get("reasons", []),
        "stance": result.get("stance"),
        "stance_to_parent": result.get("stance_to_parent"),
        "received_at": float(row.get("received_at", "0")),
    }


def with_reply_summaries(comments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each comment with ``replies``: counts by stance toward it, and the disagreeing replies' toxicity."""
    replies: dict[str, list[dict[str, Any]]] = {}
    for c in comments:
        if c["parent_id"]:
            replies.setdefault(c["parent_id"], []).append(c)
    for c in comments:
        mine = replies.get(c["id"], [])
        labels = [counted_stance(r["stance_to_parent"]) for r in mine]  # confident labels only
        hostile = [
            r["scores"].get("toxicity", 0.0) for r, label in zip(mine, labels, strict=True) if label == "disagree"
        ]
        c["replies"] = {
            "count": len(mine),
            "agree": labels.count("agree"),
            "disagree": labels.count("disagree"),
            "neutral": labels.count("neutral"),
            "unsure": labels.count(UNSURE),
            "disagreeing_max_toxicity": round(max(hostile), 4) if hostile else None,
            "disagreeing_mean_toxicity": round(sum(hostile) / len(hostile), 4) if hostile else None,
        }
    return comments
