"""OpenAI's ``POST /v1/moderations`` on Moderato's scorer: ``input`` as a string, a list of strings, or a list of
``{"type": "text", "text": ...}`` parts; the answer in OpenAI's shape. The `openai` SDK works with only
``base_url`` changed (tests/api/test_compat.py runs it).

Moderato scores what it was trained for; the categories it has no model for come back as 0.0, not flagged, and
with no input types applied (``category_applied_input_types`` empty), so a client can tell "not scored" from
"scored low". A category is flagged when its score reaches the tenant's review threshold for the attribute it
comes from.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.deps import StateDep
from service.scoring.scorer import CommentError, CommentIn

router = APIRouter(prefix="/v1", tags=["openai"])

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
    model_config = ConfigDict(extra="forbid")
    type: str
    text: str | None = None


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str | list[str] | list[TextPart]
    model: str | None = Field(default=None, max_length=200)


def _error(status: int, message: str, kind: str = "invalid_request_error", param: str | None = "input") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": None}}, status_code=status)


def _texts(body: ModerationRequest) -> list[str]:
    if isinstance(body.input, str):
        return [body.input]
    texts = []
    for item in body.input:
        if isinstance(item, str):
            texts.append(item)
        elif item.type == "text" and item.text is not None:
            texts.append(item.text)
        else:
            raise ValueError(f"input of type {item.type!r} is not supported: Moderato reads text only")
    return texts


@router.post("/moderations", responses={200: {"description": "OpenAI's moderation object"}})
async def moderations(request: Request, state: StateDep) -> JSONResponse:
    """OpenAI's moderation endpoint: one result per input."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal = state.keyring.lookup(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if principal is None:
        return _error(401, "Incorrect API key provided.", "invalid_request_error", None)
    if principal.role not in ("platform", "admin"):
        return _error(403, f"A {principal.role} key cannot moderate comments.", "invalid_request_error", None)
    try:
        body = ModerationRequest.model_validate_json(await request.body())
        texts = _texts(body)
    except (ValidationError, ValueError) as exc:
        return _error(400, str(exc).splitlines()[0])
    if not texts or len(texts) > MAX_INPUTS:
        return _error(400, f"input must hold 1 to {MAX_INPUTS} texts")
    if state.runtime is None:
        return _error(503, "the model is still loading", "server_error", None)
    scorer = state.runtime.scorer
    comments = [CommentIn(f"input-{i}", text) for i, text in enumerate(texts)]
    outcomes = await scorer.analyze(principal.tenant, comments, store=True)
    thresholds = scorer.policy(principal.tenant).review
    results = []
    for outcome in outcomes:
        if isinstance(outcome, CommentError):
            return _error(400, f"{outcome.id}: {outcome.message}")
        results.append(_result(outcome.scores, thresholds))
    return JSONResponse({"id": f"modr-{uuid.uuid4().hex}", "model": scorer.model_version, "results": results})


def _result(scores: dict[str, float], thresholds: dict[str, float]) -> dict[str, Any]:
    category_scores = {name: min(scores[a] for a in source) for name, source in SCORED.items()}
    categories = {name: all(scores[a] >= thresholds.get(a, 1.0) for a in source) for name, source in SCORED.items()}
    applied: dict[str, list[str]] = {name: ["text"] for name in SCORED}
    for name in NOT_SCORED:
        category_scores[name], categories[name], applied[name] = 0.0, False, []
    return {
        "flagged": any(categories.values()),
        "categories": categories,
        "category_scores": category_scores,
        "category_applied_input_types": applied,
    }
