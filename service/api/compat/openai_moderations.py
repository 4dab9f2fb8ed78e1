"""OpenAI's ``POST /v1/moderations`` on Moderato's scorer: ``input`` as a string, a list of strings, or a list of
``{"type": "text", "text": ...}`` parts; the answer in OpenAI's shape. The `openai` SDK works with only
``base_url`` changed (tests/api/test_compat.py runs it). The key, role and rate limit are checked by the same edge
as every route (``api/deps.py``); errors leave in OpenAI's shape, translated in one place (the router's route class).

Moderato scores what it was trained for; the categories it has no model for come back as 0.0, not flagged, and
with no input types applied (``category_applied_input_types`` empty), so a client can tell "not scored" from
"scored low". A category is flagged when its score reaches the tenant's review threshold for the attribute it
comes from. ``flagged`` is true whenever the tenant's policy would not publish the text unreviewed: a category,
and also a text in a language the model does not read, or one longer than it reads (fail closed). Why is in
``moderato`` beside each result: ``{"decision", "reasons", "language"}`` (the SDK keeps unknown fields).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from service.api.compat.vendor import AsciiJSONResponse, Failure, vendor_route
from service.api.deps import PlatformDep, RuntimeDep
from service.contract import Decision
from service.errors import InvalidInput
from service.scoring.scorer import CommentError, CommentIn, ScoredComment, answered_by

# OpenAI category -> (Moderato attributes it is read from; the lowest of them counts).
SCORED: dict[str, tuple[str, ...]] = {
    "harassment": ("insult",),
    "harassment/threatening": ("threat",),
    "hate": ("identity_attack",),
    "hate/threatening": ("identity_attack", "threat"),
    "violence": ("threat",),
}
NOT_SCORED = (
    "illicit", "illicit/violent", "self-harm", "self-harm/intent", "self-harm/instructions", "sexual",
    "sexual/minors", "violence/graphic",
)  # fmt: skip
MAX_INPUTS = 256


class TextPart(BaseModel):
    # an image part's own fields ("image_url") are let through so that _texts refuses it by name, instead of a
    # validation error about strings that never says why
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str | None = None


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str | list[str] | list[TextPart]
    model: str | None = Field(default=None, max_length=200)


def _error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = "input") -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    return AsciiJSONResponse(body, status_code=status)


def _translate(failure: Failure, exc: Exception) -> Response:
    """Any failure in OpenAI's error shape."""
    if failure.kind in ("auth_missing", "auth_invalid"):
        return _error(401, "Incorrect API key provided.", param=None)
    if failure.kind == "rate_limited":
        response = _error(429, failure.message, "requests", None)
    elif failure.kind == "unavailable":
        response = _error(503, failure.message, "server_error", None)
    else:
        response = _error(failure.status, failure.message, param=None if failure.kind == "forbidden" else "input")
    response.headers.update(failure.headers or {})
    return response


router = APIRouter(prefix="/v1", tags=["openai"], route_class=vendor_route(_translate))


def _texts(body: ModerationRequest) -> list[str]:
    if isinstance(body.input, str):
        return [body.input]
    texts = []
    for item in body.input:
        if isinstance(item, str):
            texts.append(item)
        elif item.type == "text":
            if item.text is None:
                raise ValueError("a text part needs its text")
            texts.append(item.text)
        else:
            raise ValueError(f"input of type {item.type!r} is not supported: Moderato reads text only")
    return texts


@router.post("/moderations", responses={200: {"description": "OpenAI's moderation object"}})
async def moderations(body: ModerationRequest, principal: PlatformDep, runtime: RuntimeDep) -> Response:
    """OpenAI's moderation endpoint: one result per input."""
    try:
        texts = _texts(body)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if not texts or len(texts) > MAX_INPUTS:
        raise InvalidInput(f"input must hold 1 to {MAX_INPUTS} texts")
    scorer = runtime.scorer
    comments = [CommentIn(f"input-{i}", text) for i, text in enumerate(texts)]
    await scorer.check_work_off_loop(comments)
    outcomes = await scorer.analyze(principal.tenant, comments, store=True)
    thresholds = scorer.policy(principal.tenant).review
    results = []
    for outcome in outcomes:
        if isinstance(outcome, CommentError):
            raise InvalidInput(f"{outcome.id}: {outcome.message}")
        results.append(_result(outcome, thresholds))
    return AsciiJSONResponse(
        {"id": f"modr-{uuid.uuid4().hex}", "model": answered_by(scorer, principal.tenant, outcomes), "results": results}
    )


def _result(outcome: ScoredComment, thresholds: dict[str, float]) -> dict[str, Any]:
    scores = outcome.scores
    category_scores = {name: min(scores[a] for a in source) for name, source in SCORED.items()}
    categories = {name: all(scores[a] >= thresholds.get(a, 1.0) for a in source) for name, source in SCORED.items()}
    applied: dict[str, list[str]] = {name: ["text"] for name in SCORED}
    for name in NOT_SCORED:
        category_scores[name], categories[name], applied[name] = 0.0, False, []
    return {
        "flagged": any(categories.values()) or outcome.decision != Decision.ALLOW,
        "categories": categories,
        "category_scores": category_scores,
        "category_applied_input_types": applied,
        "moderato": {"decision": outcome.decision, "reasons": outcome.reasons, "language": outcome.language},
    }
