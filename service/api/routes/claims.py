"""POST /v1/claims/renew and /v1/claims/release: a moderator keeps the comments in hand, or gives them back."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ModeratorDep, QueuesDep
from service.api.schemas import LeasesBody, LeasesOut

router = APIRouter(prefix="/v1/claims", tags=["queues"])


@router.post("/renew", response_model=LeasesOut)
async def renew(body: LeasesBody, principal: ModeratorDep, queues: QueuesDep) -> LeasesOut:
    """Extend this moderator's leases (the page does it while open); a lease already lost is not renewed."""
    ids = await queues.renew(principal.tenant, principal.name, body.ids, body.lease_s)
    return LeasesOut(moderator=principal.name, ids=ids)


@router.post("/release", response_model=LeasesOut)
async def release(body: LeasesBody, principal: ModeratorDep, queues: QueuesDep) -> LeasesOut:
    """Give leased comments back to the queue at once (the page does it when the moderator leaves)."""
    ids = await queues.release(principal.tenant, principal.name, body.ids)
    return LeasesOut(moderator=principal.name, ids=ids)
