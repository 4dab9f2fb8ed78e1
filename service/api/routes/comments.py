"""Asynchronous comments: POST /v1/comments (202), GET /v1/comments/{id}, reports and moderator decisions."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import ModeratorDep, PlatformDep, QueuesDep, ReaderDep, RecordsDep, SettingsDep
from service.api.schemas import (
    CommentState,
    DecisionBody,
    DecisionOut,
    IngestBody,
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
    for c in body.comments:
        if not c.text.strip():
            items.append(IngestItem(id=c.id, status="rejected", error="text is empty or only whitespace"))
        elif len(c.text) > settings.max_comment_chars:
            items.append(
                IngestItem(id=c.id, status="rejected", error=f"text over {settings.max_comment_chars} characters")
            )
        else:
            fresh.append(
                IncomingComment(c.id, c.text, c.thread_id, c.article_id, c.author_id, c.parent_id, c.callback_url)
            )
            items.append(IngestItem(id=c.id, status="queued"))
    accepted = (
        dict(zip([c.id for c in fresh], await records.accept(principal.tenant, fresh), strict=True)) if fresh else {}
    )
    for item in items:
        if item.status == "queued" and not accepted.get(item.id, True):
            item.status = "duplicate"
    return IngestOut(accepted=sum(1 for i in items if i.status == "queued"), items=items)


@router.get("/comments/{comment_id}", response_model=CommentState)
async def get_comment(comment_id: str, principal: ReaderDep, records: RecordsDep) -> CommentState:
    record = await records.get(principal.tenant, comment_id)
    return _state(comment_id, record)


@router.post("/comments/{comment_id}/report", response_model=ReportOut, status_code=status.HTTP_202_ACCEPTED)
async def report_comment(comment_id: str, body: ReportBody, principal: PlatformDep, records: RecordsDep) -> ReportOut:
    """A reader's report, forwarded by the platform: the comment joins the `reported` queue."""
    record = await records.get(principal.tenant, comment_id)
    scores = (parse_result(record) or {}).get("scores", {})
    await records.report(
        principal.tenant, comment_id, body.reason, review_priority(scores, 0, float(record.get("received_at", "0")))
    )
    return ReportOut(id=comment_id, queue=Queue.REPORTED)


@router.post("/comments/{comment_id}/decision", response_model=DecisionOut)
async def decide(comment_id: str, body: DecisionBody, principal: ModeratorDep, queues: QueuesDep) -> DecisionOut:
    previous = await queues.decide(
        principal.tenant, comment_id, moderator=principal.name, action=body.decision, reason=body.reason
    )
    return DecisionOut(id=comment_id, decision=body.decision, previous=previous, decided_by=principal.name)


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
