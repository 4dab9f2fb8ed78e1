"""PUT/DELETE /v1/premoderation/{thread}: hold every new comment of a thread (or article id) for review."""

from __future__ import annotations

from fastapi import APIRouter

from service import redis_keys as keys
from service.api.deps import ModeratorDep, RedisDep, ThreadId
from service.api.schemas import PremoderationOut

router = APIRouter(prefix="/v1/premoderation", tags=["premoderation"])


@router.put("/{thread_id}", response_model=PremoderationOut)
async def hold_thread(thread_id: ThreadId, principal: ModeratorDep, redis: RedisDep) -> PremoderationOut:
    """Hold every new comment of a thread (or article id) for review."""
    await redis.sadd(keys.premoderated(principal.tenant), thread_id)
    return PremoderationOut(thread_id=thread_id, premoderated=True)


@router.delete("/{thread_id}", response_model=PremoderationOut)
async def release_thread(thread_id: ThreadId, principal: ModeratorDep, redis: RedisDep) -> PremoderationOut:
    await redis.srem(keys.premoderated(principal.tenant), thread_id)
    return PremoderationOut(thread_id=thread_id, premoderated=False)


@router.get("/{thread_id}", response_model=PremoderationOut)
async def thread_hold(thread_id: ThreadId, principal: ModeratorDep, redis: RedisDep) -> PremoderationOut:
    """Whether every new comment of this thread is held for review."""
    held = await redis.sismember(keys.premoderated(principal.tenant), thread_id)
    return PremoderationOut(thread_id=thread_id, premoderated=bool(held))
