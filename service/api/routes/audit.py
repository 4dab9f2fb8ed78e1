"""GET /v1/audit (decisions, newest first), GET /v1/deadletter (admins), GET /v1/stats/fairness,
and pre-moderation of threads."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request

from service.api.deps import AdminDep, ModeratorDep
from service.moderation import keys
from service.moderation.audit import audit_page, dead_letter_page
from service.moderation.stats import fairness

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit")
async def get_audit(
    request: Request,
    principal: ModeratorDep,
    comment_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    filters = {k: v for k, v in {"comment_id": comment_id, "actor": actor, "action": action}.items() if v}
    page = await audit_page(request.app.state.redis, principal.tenant, cursor=cursor, limit=limit, filters=filters)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/deadletter")
async def get_dead_letters(
    request: Request,
    principal: AdminDep,
    kind: Literal["ingest", "webhook"] = "ingest",
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> dict[str, Any]:
    page = await dead_letter_page(request.app.state.redis, principal.tenant, kind=kind, cursor=cursor, limit=limit)
    return {"kind": kind, "items": page.items, "next_cursor": page.next_cursor}


@router.get("/stats/fairness")
async def get_fairness(request: Request, principal: ModeratorDep, article_id: str) -> dict[str, Any]:
    return await fairness(request.app.state.redis, principal.tenant, article_id)


@router.put("/premoderation/{thread_id}")
async def hold_thread(request: Request, thread_id: str, principal: ModeratorDep) -> dict[str, Any]:
    """Hold every new comment of a thread (or article id) for review."""
    await request.app.state.redis.sadd(keys.premoderated(principal.tenant), thread_id)
    return {"thread_id": thread_id, "premoderated": True}


@router.delete("/premoderation/{thread_id}")
async def release_thread(request: Request, thread_id: str, principal: ModeratorDep) -> dict[str, Any]:
    await request.app.state.redis.srem(keys.premoderated(principal.tenant), thread_id)
    return {"thread_id": thread_id, "premoderated": False}
