"""Decided comments: GET /v1/decided/{view} (approved, rejected, unmoderated), newest decision first, with the
queues' filters. A decision is reversed through POST /v1/comments/{id}/decision with a reason."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from service.api.deps import FiltersDep, ModeratorDep, QueuesDep
from service.api.schemas import DecidedPageOut
from service.contract import DECIDED_VIEWS, one_of_pattern
from service.moderation.queues import list_decided

router = APIRouter(prefix="/v1/decided", tags=["queues"])


@router.get("/{view}", response_model=DecidedPageOut)
async def get_decided(
    principal: ModeratorDep,
    queues: QueuesDep,
    filters: FiltersDep,
    view: str = Path(pattern=one_of_pattern(DECIDED_VIEWS)),
    cursor: str | None = Query(
        default=None,
        description='the previous page\'s `next_cursor`, passed back unchanged (`"TIME:ID"`); anything else is a '
        "400 `invalid_cursor`",
    ),
    limit: int = Query(default=50, ge=1, le=200),
) -> DecidedPageOut:
    """Comments decided by the model or a moderator, newest first; each with its decision, who took it and why."""
    page = await list_decided(queues, principal.tenant, view, cursor=cursor, limit=limit, filters=filters)
    return DecidedPageOut.model_validate({"view": view, "items": page.items, "next_cursor": page.next_cursor})
