"""Asynchronous comments: POST /v1/comments (202), GET /v1/comments/{id}, reports and moderator decisions."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response, status

from service.api.deps import (
    CommentId,
    ErasureReason,
    ModeratorDep,
    PlatformDep,
    QueuesDep,
    ReaderDep,
    RecordsDep,
    SettingsDep,
)
from service.api.schemas import (
    CommentState,
    DecisionBody,
    DecisionOut,
    IngestBody,
    IngestComment,
    IngestItem,
    IngestOut,
    ReportBody,
    ReportOut,
)
from service.contract import Queue
from service.errors import TooLarge
from service.moderation.priority import review_priority
from service.moderation.queues import parse_result
from service.moderation.records import IncomingComment
from service.moderation.targets import AllowList, UnsafeTarget, allow_list, resolve
from service.scoring.normalise import text_problem

router = APIRouter(prefix="/v1", tags=["comments"])


@router.post("/comments", response_model=IngestOut, status_code=status.HTTP_202_ACCEPTED)
async def post_comments(
    body: IngestBody, principal: PlatformDep, records: RecordsDep, settings: SettingsDep
) -> IngestOut:
    """Queue 1 to 1,000 comments for scoring; a comment id already known is not queued again."""
    if len(body.comments) > settings.max_ingest_comments:
        raise TooLarge(f"{len(body.comments)} comments; the limit is {settings.max_ingest_comments} per request")
    items: list[IngestItem] = []
    fresh: list[IncomingComment] = []
    seen: set[str] = set()
    unsafe = await unsafe_callbacks(body.comments, allow_list(settings, principal.tenant))
    for c in body.comments:
        problem = text_problem(c.text)
        if problem is not None:
            items.append(IngestItem(id=c.id, status="rejected", error=problem[1]))
        elif c.callback_url in unsafe:
            items.append(IngestItem(id=c.id, status="rejected", error=unsafe[c.callback_url]))
        elif c.id in seen:  # the first of an id in a request is queued; a repeat in the same request is not
            items.append(IngestItem(id=c.id, status="duplicate", error="id repeated in this request"))
        else:
            seen.add(c.id)
            fresh.append(
                IncomingComment(
                    c.id, c.text, c.thread_id, c.article_id, c.author_id, c.author_name, c.parent_id, c.callback_url
                )
            )
            items.append(IngestItem(id=c.id, status="queued"))
    accepted = (
        dict(zip([c.id for c in fresh], await records.accept(principal.tenant, fresh), strict=True)) if fresh else {}
    )
    for item in items:
        if item.status == "queued" and not accepted[item.id]:
            item.status = "duplicate"
    return IngestOut(accepted=sum(1 for i in items if i.status == "queued"), items=items)


@router.get("/comments/{comment_id}", response_model=CommentState)
async def get_comment(comment_id: CommentId, principal: ReaderDep, records: RecordsDep) -> CommentState:
    record = await records.get(principal.tenant, comment_id)
    return _state(comment_id, record)


@router.delete("/comments/{comment_id}", status_code=status.HTTP_204_NO_CONTENT)
async def erase_comment(
    comment_id: CommentId, principal: PlatformDep, records: RecordsDep, reason: ErasureReason = ""
) -> Response:
    """Erase a comment the platform deleted (or a reader asked to have forgotten): its text, author and result go
    from every queue, view, thread, author page and the search index; the audit keeps only that it was erased.
    Idempotent: erasing it again answers 204 too. A retried POST of the id never stores it again."""
    await records.erase(principal.tenant, comment_id, actor=principal.name, reason=reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/comments/{comment_id}/report", response_model=ReportOut, status_code=status.HTTP_202_ACCEPTED)
async def report_comment(
    comment_id: CommentId, body: ReportBody, principal: PlatformDep, records: RecordsDep
) -> ReportOut:
    """A reader's report, forwarded by the platform: the comment joins the `reported` queue."""
    record = await records.get(principal.tenant, comment_id)
    scores = (parse_result(record) or {}).get("scores", {})
    await records.report(
        principal.tenant, comment_id, body.reason, review_priority(scores, 0, float(record.get("received_at", "0")))
    )
    return ReportOut(id=comment_id, queue=Queue.REPORTED)


@router.post("/comments/{comment_id}/decision", response_model=DecisionOut)
async def decide(comment_id: CommentId, body: DecisionBody, principal: ModeratorDep, queues: QueuesDep) -> DecisionOut:
    previous = await queues.decide(
        principal.tenant,
        comment_id,
        moderator=principal.name,
        action=body.decision,
        reason=body.reason,
        actor_kind=principal.role,
        reverse=body.reverse,
    )
    return DecisionOut(id=comment_id, decision=body.decision, previous=previous, decided_by=principal.name)


async def unsafe_callbacks(comments: list[IngestComment], allow: AllowList) -> dict[str | None, str]:
    """Each distinct callback URL of a request that must be refused, with why (checked once per URL)."""
    urls = {c.callback_url for c in comments if c.callback_url}
    checks = await asyncio.gather(*(resolve(url, allow) for url in urls), return_exceptions=True)
    return {url: str(c) for url, c in zip(urls, checks, strict=True) if isinstance(c, UnsafeTarget)}


def _state(comment_id: str, record: dict[str, str]) -> CommentState:
    return CommentState(
        id=comment_id,
        status=record.get("status", "queued"),
        thread_id=record.get("thread_id"),
        article_id=record.get("article_id"),
        result=parse_result(record),
        decision=record.get("decision"),
        decided_by=record.get("decided_by"),
        queue=record.get("queue") or None,
        error=record.get("error"),
    )
