"""GET /v1/threads/{thread_id}: a thread's comments in order with their replies' stance toward each."""

from __future__ import annotations

from fastapi import APIRouter, Query

from service.api.deps import ModeratorDep, RecordsDep, ThreadId
from service.api.schemas import ThreadOut
from service.moderation.threads import MAX_COMMENTS, thread_view

router = APIRouter(prefix="/v1/threads", tags=["threads"])


@router.get("/{thread_id}", response_model=ThreadOut)
async def get_thread(
    thread_id: ThreadId,
    principal: ModeratorDep,
    records: RecordsDep,
    limit: int = Query(default=500, ge=1, le=MAX_COMMENTS),
) -> ThreadOut:
    """The thread's queued comments in arrival order; per comment, how many replies agree or disagree with it and
    how toxic the disagreeing ones are (the pile-on signal)."""
    return ThreadOut.model_validate(await thread_view(records, principal.tenant, thread_id, limit=limit))
