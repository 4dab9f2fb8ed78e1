"""Scores a site suggests for a comment (Perspective's ``comments:suggestscore``): kept as training labels beside
moderators' decisions, read back by ``moderato export-labels``. The one writer of the tenant's suggestions stream."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys


@dataclass(frozen=True)
class Suggestion:
    """:param scores: attribute name as the site sent it (Perspective's, e.g. TOXICITY) -> the score it suggests.
    :param attributes: the same scores under Moderato's attribute names (those it has a name for).
    :param model: the model version the tenant was served when the suggestion came (the labels' provenance)."""

    text: str
    scores: dict[str, float]
    attributes: dict[str, float] = field(default_factory=dict)
    model: str = ""
    client_token: str = ""
    community_id: str = ""
    session_id: str = ""


async def record_suggestion(
    redis: aioredis.Redis, tenant: str, suggestion: Suggestion, *, cap: int = keys.SUGGESTED_SCORES_MAX
) -> None:
    """Append one suggestion to the tenant's stream, trimmed to its ``cap`` newest entries, registering the tenant
    first (the registry is not a tenant key: on a cluster it lives on another slot than the stream)."""
    entry: dict[Any, Any] = {  # redis-py's field types
        "text": suggestion.text,
        "scores": json.dumps(suggestion.scores),
        "attributes": json.dumps(suggestion.attributes),
        "model": suggestion.model,
        "client_token": suggestion.client_token,
        "community_id": suggestion.community_id,
        "session_id": suggestion.session_id,
        "at": f"{time.time():.3f}",
    }
    await redis.sadd(keys.TENANTS, tenant)
    await redis.xadd(keys.suggested_scores(tenant), entry, maxlen=cap, approximate=False)
