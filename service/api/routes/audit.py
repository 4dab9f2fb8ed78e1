"""GET /v1/audit: decisions by the model and by moderators, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Query

from service.api.deps import ModeratorDep, RedisDep
from service.api.schemas import AuditPageOut
from service.moderation.audit import audit_page

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", response_model=AuditPageOut)
async def get_audit(
    principal: ModeratorDep,
    redis: RedisDep,
    comment_id: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    cursor: str | None = None,
    limit: int = Query(default=50, ge=1, le=500),
) -> AuditPageOut:
    filters = {k: v for k, v in {"comment_id": comment_id, "actor": actor, "action": action}.items() if v}
    page = await audit_page(redis, principal.tenant, cursor=cursor, limit=limit, filters=filters)
    return AuditPageOut.model_validate({"items": page.items, "next_cursor": page.next_cursor})
