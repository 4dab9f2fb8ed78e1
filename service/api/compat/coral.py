"""Coral Talk's external moderation phase: Coral POSTs each new or edited comment here (Admin > Configure >
Moderation > External moderation phase, URL ``/v1/coral/{tenant}/moderation``) and applies the answer.

- The request is signed as Coral signs it (``X-Coral-Signature``); the signature is this route's credential, checked
  by the same edge as every key (``api/deps.py``: ``CoralCallerDep``), with the tenant's rate limit.
- The comment is scored by the same scorer as ``/v1/analyze`` (Coral's phase timeout is short: the answer does not
  wait for a queue), under the story as its article: a story registered through ``/v1/articles`` with the story's
  id gives stance its title and lead; otherwise the words of the story URL's last path segment are the claim.
  Coral sends the body as HTML or as text (the phase's setting): either is read through an HTML parser.
- Answer: reject -> ``REJECTED``, review -> ``SYSTEM_WITHHELD`` (both with a FLAG action), allow -> 204. Fail
  closed: a comment longer than the model reads, in a language it does not read, or one the model failed on, is
  withheld (``SYSTEM_WITHHELD``), never allowed; only an empty body, which has nothing to moderate, is left to
  Coral's own rules (204).
- The comment is also queued in Moderato (thread = story, author, parent), so it reaches Moderato's review queue
  and audit log too. Its id is Coral's comment id when the payload carries one (``comment.id``), else derived from
  the request (``coral-<digest>``). Both payload shapes are read: ``tenantID``/``tenantDomain`` and the older
  ``tenant: {id, domain}``.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.api.deps import CoralCallerDep, RuntimeDep
from service.api.schemas import Text
from service.contract import ID_PATTERN, Decision
from service.moderation import authors
from service.moderation.records import IncomingComment
from service.moderation.rules import apply_standing
from service.scoring.articles import Article
from service.scoring.html_text import html_to_text
from service.scoring.scorer import CommentError, CommentIn

router = APIRouter(prefix="/v1/coral", tags=["coral"])

SAFE_ID = re.compile(r"[^A-Za-z0-9._:-]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)  # Coral may add fields: read what we know


class CoralComment(_Strict):
    id: Text | None = None  # sent by Coral versions that include it: then Moderato's record is Coral's comment
    body: Text
    parent_id: Text | None = Field(default=None, alias="parentID")


class CoralAuthor(_Strict):
    id: Text
    role: Text | None = None


class CoralStory(_Strict):
    id: Text
    url: Text = ""


class CoralSite(_Strict):
    id: Text


class CoralTenant(_Strict):
    id: Text
    domain: Text | None = None


class CoralRequest(_Strict):
    action: Literal["NEW", "EDIT"]
    comment: CoralComment
    author: CoralAuthor
    story: CoralStory
    site: CoralSite | None = None
    tenant_id: Text = Field(alias="tenantID")
    tenant_domain: Text | None = Field(default=None, alias="tenantDomain")

    @model_validator(mode="before")
    @classmethod
    def _older_shape(cls, data: Any) -> Any:
        """Older Coral releases send ``tenant: {id, domain}`` instead of ``tenantID`` and ``tenantDomain``."""
        if isinstance(data, dict) and "tenantID" not in data and isinstance(data.get("tenant"), dict):
            tenant = CoralTenant.model_validate(data["tenant"])
            return {**data, "tenantID": tenant.id, "tenantDomain": tenant.domain}
        return data


def parse_request(raw: bytes) -> CoralRequest:
    """The signed body as a CoralRequest; anything else is a 422 (never a 500: nesting too deep included)."""
    try:
        return CoralRequest.model_validate(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        message = "JSON nested too deep" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        problem = {"loc": ("body",), "msg": f"not a Coral moderation request: {message}", "type": "value_error"}
        raise RequestValidationError([problem]) from exc


def safe_id(raw: str) -> str:
    """A Coral id in Moderato's id alphabet (Coral's are UUIDs already; anything else is made so)."""
    cleaned = SAFE_ID.sub("-", raw)[:256]
    return cleaned if re.fullmatch(ID_PATTERN, cleaned) else hashlib.sha256(raw.encode()).hexdigest()[:32]


def story_claim(url: str) -> str:
    """The words of a story URL's last path segment ("/2026/12/council-votes-to-close-library" -> "council votes
    to close library"): a claim for stance when the story was never registered."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    words = re.sub(r"\.[a-z]{2,5}$", "", unquote(segments[-1])) if segments else ""
    return re.sub(r"[-_+]+", " ", words).strip()


def _answer(decision: str, reasons: list[str]) -> Response:
    """Coral's answer to a decision: nothing (allowed), or a FLAG and a status."""
    if decision == Decision.ALLOW:
        return Response(status_code=204)
    only_flood = all(r.startswith("flood") for r in reasons)
    reason = "COMMENT_DETECTED_SPAM" if only_flood else "COMMENT_DETECTED_TOXIC"
    status = "REJECTED" if decision == Decision.REJECT else "SYSTEM_WITHHELD"
    return JSONResponse({"actions": [{"actionType": "FLAG", "reason": reason}], "status": status, "tags": []})


@router.post(
    "/{tenant}/moderation",
    responses={200: {"description": "Coral's external moderation response"}, 204: {"description": "allowed"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CoralRequest.model_json_schema(by_alias=True)}},
        }
    },
)
async def coral_moderation(request: Request, principal: CoralCallerDep, runtime: RuntimeDep) -> Response:
    """Coral Talk's external moderation phase for one Moderato tenant."""
    return await _moderate(runtime, principal.tenant, parse_request(await request.body()))


async def _moderate(runtime: Any, tenant: str, body: CoralRequest) -> Response:
    text = html_to_text(body.comment.body)
    story_id = safe_id(body.story.id)
    inline, article_id = await _article(runtime, tenant, story_id, body.story.url)
    parent_id = safe_id(body.comment.parent_id) if body.comment.parent_id else None
    parent = (await runtime.records.get_many(tenant, [parent_id]))[0] if parent_id else {}
    comment = CommentIn("coral", text, article_id, parent.get("text") or None)
    (outcome,) = await runtime.scorer.analyze(tenant, [comment], article=inline)
    if isinstance(outcome, CommentError):
        if outcome.code == "empty_text":
            return Response(status_code=204)  # nothing to moderate: Coral's own rules apply
        return _answer(Decision.REVIEW, [outcome.code])  # unreadable or failed: withheld, never published unseen
    if body.comment.id:
        comment_id = safe_id(body.comment.id)
    else:
        comment_id = "coral-" + hashlib.sha256(body.model_dump_json().encode()).hexdigest()[:32]
    author_id = safe_id(body.author.id)
    queued = IncomingComment(
        comment_id, text, story_id, article_id=article_id, author_id=author_id, parent_id=parent_id
    )
    await runtime.records.accept(tenant, [queued])  # the worker applies Moderato's rules (queue, audit, webhooks)
    # Coral acts on this answer now: the author's standing counts here too, as the worker will count it
    (standing,) = await authors.standings(runtime.redis, tenant, [author_id])
    decision, reasons = apply_standing(Decision(outcome.decision), list(outcome.reasons), False, standing)
    return _answer(decision, reasons)


async def _article(runtime: Any, tenant: str, story_id: str, url: str) -> tuple[Article | None, str | None]:
    """(an article to register inline, the comment's article id): the story as registered, else its URL's words."""
    if await runtime.scorer.articles.get(tenant, story_id) is not None:
        return None, story_id
    claim = story_claim(url)
    return (Article(story_id, claim), story_id) if claim else (None, None)
