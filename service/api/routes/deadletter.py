"""GET /v1/deadletter (admins): ingest messages and webhook deliveries that failed repeatedly, with their errors."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from service.api.deps import AdminDep, RedisDep
from service.api.schemas import DeadLetterPageOut
from service.moderation.audit import dead_letter_page

router = APIRouter(prefix="/v1", tags=["dead letters"])


@router.get("/deadletter", response_model=DeadLetterPageOut)
async def get_dead_letters(
    principal: AdminDep,
    redis: RedisDep,
    kind: Literal["ingest", "webhook"] = "ingest",
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> DeadLetterPageOut:
    page = await dead_letter_page(redis, principal.tenant, kind=kind, cursor=cursor, limit=limit)
    return DeadLetterPageOut(kind=kind, items=page.items, next_cursor=page.next_cursor)
