"""GET /v1/search: the tenant's stored comments by their words, author and time range, newest first
(service/moderation/search.py: SQLite FTS5, shared by every process on the machine)."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Query, Request

from service import redis_keys as keys
from service.api.deps import ModeratorDep, RuntimeDep
from service.api.schemas import SearchPageOut
from service.errors import InvalidInput, Unavailable
from service.moderation.queues import decided_item

router = APIRouter(prefix="/v1/search", tags=["search"])

NODE_TIMEOUT_S = 5.0  # the search replica's answer, in total
EPOCH_MAX = 1e11  # epoch seconds (the year 5138): a time past it cannot be a row id


@router.get("", response_model=SearchPageOut)
async def search(
    request: Request,
    principal: ModeratorDep,
    runtime: RuntimeDep,
    q: str | None = Query(
        default=None,
        max_length=500,
        description='words that must all occur (in any form the stemmer reads as the same: "insults" finds "insult");'
        ' "a quoted phrase" as written; word* as a prefix. Also matches author names',
    ),
    author: str | None = Query(default=None, max_length=256, description="an author's id or display name"),
    since: float | None = Query(default=None, ge=0, le=EPOCH_MAX, description="received at or after (epoch s)"),
    until: float | None = Query(default=None, ge=0, le=EPOCH_MAX, description="received before (epoch seconds)"),
    cursor: str | None = Query(default=None, max_length=18, description="the previous page's `next_cursor`"),
    limit: int = Query(default=50, ge=1, le=200),
) -> SearchPageOut:
    """Find comments: each with its scores, spans, stance, author and its decision (if any) as it stands now."""
    if runtime.search is None:  # another replica keeps the index: ask it, as the caller
        return await _ask_search_node(request, runtime.settings.search_url or "")
    tenant = principal.tenant
    hits = await runtime.search.search(
        tenant, q=q or None, author=author or None, since=since, until=until, limit=limit, cursor=cursor
    )
    records = await runtime.records.get_many(tenant, hits.ids)
    items = [
        decided_item(cid, float(r.get("received_at") or 0), r)
        for cid, r in zip(hits.ids, records, strict=True)
        if r  # a comment removed from Redis since it was indexed
    ]
    pending = int(await runtime.redis.zcard(keys.search_pending(tenant)))
    return SearchPageOut.model_validate({"items": items, "next_cursor": hits.next_cursor, "pending": pending})


async def _ask_search_node(request: Request, node: str) -> SearchPageOut:
    """The same search, answered by the replica that keeps the index (MODERATO_SEARCH_URL), with the caller's own
    credentials (every replica has the same keys and sessions), so it sees exactly what the caller may see."""
    forwarded = {k: v for k, v in request.headers.items() if k in ("authorization", "cookie")}
    try:
        async with httpx.AsyncClient(timeout=NODE_TIMEOUT_S, follow_redirects=False) as client:
            answer = await client.get(f"{node.rstrip('/')}/v1/search", params=request.query_params, headers=forwarded)
    except httpx.HTTPError as exc:
        message = f"the search replica cannot be reached ({type(exc).__name__})"
        raise Unavailable(message, code="search_unavailable") from exc
    if answer.status_code != 200:
        body = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
        error = body.get("error", {}) if isinstance(body, dict) else {}
        raise (InvalidInput if answer.status_code < 500 else Unavailable)(
            error.get("message", f"the search replica answered HTTP {answer.status_code}"),
            code=error.get("code", "search_unavailable"),
        )
    return SearchPageOut.model_validate(answer.json())
