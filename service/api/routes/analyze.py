"""POST /v1/analyze: synchronous scoring of 1 to 256 comments."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import PlatformDep, RuntimeDep
from service.api.errors import comment_error_status
from service.api.schemas import AnalyzeRequest, AnalyzeResponse, ErrorBody, ErrorResultOut, ResultOut
from service.errors import TooLarge
from service.moderation.records import Records, parent_texts_of
from service.scoring.articles import Article
from service.scoring.scorer import CommentError, CommentIn, answered_by, read_as

router = APIRouter(prefix="/v1", tags=["analyze"])


@router.post("/analyze", response_model=AnalyzeResponse, response_model_exclude_defaults=True)
async def analyze(body: AnalyzeRequest, principal: PlatformDep, runtime: RuntimeDep) -> AnalyzeResponse:
    """Score comments: attribute scores, toxic spans, stance toward the article, and the policy's decision."""
    # one runtime dependency rather than one each for the scorer and the records: every dependency is resolved
    # per request, and this is the hottest route (bench/profile_paths.py)
    scorer, records = runtime.scorer, runtime.records
    limit = scorer.settings.max_comments_per_request
    if len(body.comments) > limit:
        raise TooLarge(f"{len(body.comments)} comments; the limit is {limit} per request")
    article = None if body.article is None else Article(body.article.id, body.article.title, body.article.body)
    parents = await parent_texts(records, principal.tenant, body)
    comments = [CommentIn(c.id, c.text, c.article_id, parents.get(c.parent_id or "")) for c in body.comments]
    await scorer.check_work_off_loop(comments)
    outcomes = await scorer.analyze(principal.tenant, comments, article=article, store=body.store)
    # read_as only here (the worker and the other vendors' shapes never answer it), of the text the model read
    read = scorer.settings.max_comment_chars
    results: list[ResultOut | ErrorResultOut] = [
        ErrorResultOut(id=o.id, error=ErrorBody(code=o.code, message=o.message, status=comment_error_status(o.code)))
        if isinstance(o, CommentError)
        else ResultOut.model_validate(o, from_attributes=True).model_copy(update={"read_as": read_as(c.text[:read])})
        for c, o in zip(comments, outcomes, strict=True)
    ]
    return AnalyzeResponse(model=answered_by(scorer, principal.tenant, outcomes), results=results)


async def parent_texts(records: Records, tenant: str, body: AnalyzeRequest) -> dict[str, str]:
    """The text of each comment replied to: the inline ``parent``, else a queued comment of that id."""
    inline = {body.parent.id: body.parent.text} if body.parent else {}
    wanted = {c.parent_id for c in body.comments if c.parent_id and c.parent_id not in inline}
    return inline | await parent_texts_of(records, tenant, sorted(wanted))
