"""The people behind comments: GET /v1/authors/{author_id} (their name, record, standing and recent comments) and
POST /v1/authors/{author_id}/standing (suspend, ban, always pre-moderate or trust them, with a reason and an
optional end; "none" ends it). Enforced on each new comment the author sends, by every worker (authors.py).
DELETE /v1/authors/{author_id} erases everything of theirs (moderation/erasure.py)."""

from __future__ import annotations

import time

from fastapi import APIRouter

from service.api.deps import CommentId, ErasureReason, ModeratorDep, PlatformDep, RecordsDep, RedisDep
from service.api.schemas import AuthorErasedOut, AuthorOut, StandingIn
from service.errors import InvalidInput
from service.moderation import authors, erasure

router = APIRouter(prefix="/v1/authors", tags=["authors"])


@router.get("/{author_id}", response_model=AuthorOut)
async def author(author_id: CommentId, principal: ModeratorDep, redis: RedisDep) -> AuthorOut:
    """An author's name, record (comments, flagged, rejected), standing, and most recent comments with their
    scores, decisions and reports."""
    return AuthorOut.model_validate(await authors.author_page(redis, principal.tenant, author_id))


@router.post("/{author_id}/standing", response_model=AuthorOut)
async def set_standing(author_id: CommentId, body: StandingIn, principal: ModeratorDep, redis: RedisDep) -> AuthorOut:
    """Suspend (new comments rejected: ``author_suspended``), ban (``author_banned``), pre-moderate (every new
    comment held for review) or trust (a review the scores alone asked for is skipped) an author, or end it
    (``none``). Audited; a reason is required, an end time (epoch seconds) is optional."""
    if body.until is not None and body.until <= time.time():
        raise InvalidInput("until must be in the future (epoch seconds)", code="invalid_until")
    await authors.set_standing(
        redis, principal.tenant, author_id, body.standing, reason=body.reason, until=body.until, actor=principal.name
    )
    return AuthorOut.model_validate(await authors.author_page(redis, principal.tenant, author_id))


@router.delete("/{author_id}", response_model=AuthorErasedOut)
async def erase_author(
    author_id: CommentId, principal: PlatformDep, records: RecordsDep, reason: ErasureReason = ""
) -> AuthorErasedOut:
    """Erase everything Moderato holds of an author (a reader's request to be forgotten): every comment of theirs,
    queued, scored or decided, as ``DELETE /v1/comments/{id}`` erases one, then their name, counters and standing.
    Audited (``author_erased``, with the count). Idempotent: a second call erases nothing more and says 0."""
    done = await erasure.erase_author(records, principal.tenant, author_id, actor=principal.name, reason=reason)
    return AuthorErasedOut.model_validate(done)
