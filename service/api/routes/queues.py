"""Review queues: GET /v1/queues/{queue} (filters, cursor) and POST /v1/queues/{queue}/claim (leases)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from service.api.deps import FiltersDep, ModeratorDep, QueuesDep
from service.api.schemas import ClaimBody, ClaimOut, QueuePageOut
from service.moderation.queues import claimed_items, list_queue

router = APIRouter(prefix="/v1/queues", tags=["queues"])


@router.get("/{queue}", response_model=QueuePageOut)
async def get_queue(
    queue: str,
    principal: ModeratorDep,
    queues: QueuesDep,
    filters: FiltersDep,
    cursor: str | None = Query(
        default=None,
        description="the previous page's `next_cursor`, passed back unchanged: `\"SCORE:ID\"`, the last entry's "
        "priority score (a decimal number) and comment id; anything else is a 400 `invalid_cursor`",
        examples=["0.9731:c-1024"],
    ),
    limit: int = Query(default=50, ge=1, le=200),
) -> QueuePageOut:
    """Comments waiting in a queue, most urgent first."""
    page = await list_queue(queues, principal.tenant, queue, cursor=cursor, limit=limit, filters=filters)
    return QueuePageOut.model_validate(
        {"queue": queue, "items": page.items, "next_cursor": page.next_cursor, "unsure": page.unsure}
    )


@router.post("/{queue}/claim", response_model=ClaimOut)
async def claim(queue: str, body: ClaimBody, principal: ModeratorDep, queues: QueuesDep) -> ClaimOut:
    """Lease the next comments to this moderator; nobody else is handed them until the lease ends."""
    ids = await queues.claim(principal.tenant, queue, principal.name, body.count, body.lease_s)
    items = await claimed_items(queues, principal.tenant, queue, principal.name, ids)
    return ClaimOut.model_validate(
        {"queue": queue, "moderator": principal.name, "lease_s": body.lease_s or queues.lease_s, "items": items}
    )
