"""Coral Talk's external moderation phase: Coral POSTs each new or edited comment here (Admin > Configure >
Moderation > External moderation phase, URL ``/v1/coral/{tenant}/moderation``) and applies the answer.

- The request is signed as Coral signs it (``X-Coral-Signature: sha256=<hex HMAC-SHA256(secret, body)>``, one
  per active secret, comma-separated); an unsigned or wrongly signed request is refused.
- The comment is scored by the same scorer as ``/v1/analyze`` (Coral's phase timeout is short: the answer does not
  wait for a queue), under the story as its article: a story registered through ``/v1/articles`` with the story's
  id gives stance its title and lead; otherwise the words of the story URL's last path segment are the claim.
- Answer: reject -> ``REJECTED``, review -> ``SYSTEM_WITHHELD`` (both with a FLAG action), allow -> 204.
- The comment is also queued in Moderato (thread = story, author, parent), so it reaches Moderato's review queue
  and audit log too, and a site can moderate in Coral and in Moderato at once. Coral sends no comment id before
  the comment exists, so Moderato's id is derived from the request (``coral-<digest>``): an edit is a new record.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.deps import StateDep
from service.contract import ID_PATTERN, Decision
from service.moderation.records import IncomingComment
from service.scoring.articles import Article
from service.scoring.scorer import CommentError, CommentIn

router = APIRouter(prefix="/v1/coral", tags=["coral"])

SIGNATURE_HEADER = "X-Coral-Signature"
TAG = re.compile(r"<[^>]*>")
SAFE_ID = re.compile(r"[^A-Za-z0-9._:-]")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)  # Coral may add fields: read what we know


class CoralComment(_Strict):
    body: str = Field(max_length=100_000)
    parent_id: str | None = Field(default=None, alias="parentID")


class CoralAuthor(_Strict):
    id: str
    role: str | None = None


class CoralStory(_Strict):
    id: str
    url: str = ""


class CoralSite(_Strict):
    id: str


class CoralRequest(_Strict):
    action: Literal["NEW", "EDIT"]
    comment: CoralComment
    author: CoralAuthor
    story: CoralStory
    site: CoralSite | None = None
    tenant_id: str = Field(alias="tenantID")
    tenant_domain: str | None = Field(default=None, alias="tenantDomain")


def signed_by(secrets: list[str], body: bytes, header: str) -> bool:
    """Whether any of Coral's signatures in ``header`` is ours over ``body`` (constant-time compares)."""
    expected = [f"sha256={hmac.new(s.encode(), body, hashlib.sha256).hexdigest()}".encode() for s in secrets]
    given = [part.strip().encode("utf-8", "surrogateescape") for part in header.split(",") if part.strip()]
    return any(hmac.compare_digest(e, g) for e in expected for g in given)


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
    if decision == Decision.ALLOW:
        return Response(status_code=204)
    only_flood = all(r.startswith("flood") for r in reasons)
    reason = "COMMENT_DETECTED_SPAM" if only_flood else "COMMENT_DETECTED_TOXIC"
    status = "REJECTED" if decision == Decision.REJECT else "SYSTEM_WITHHELD"
    return JSONResponse({"actions": [{"actionType": "FLAG", "reason": reason}], "status": status, "tags": []})


@router.post(
    "/{tenant}/moderation",
    responses={200: {"description": "Coral's external moderation response"}, 204: {"description": "allowed"}},
)
async def coral_moderation(
    request: Request, state: StateDep, tenant: str = Path(pattern=r"^[A-Za-z0-9._-]{1,64}$")
) -> Response:
    """Coral Talk's external moderation phase for one Moderato tenant."""
    secrets = [s.get_secret_value() for s in state.settings.coral_signing_secrets.get(tenant, [])]
    raw = await request.body()
    if not secrets or not signed_by(secrets, raw, request.headers.get(SIGNATURE_HEADER, "")):
        return JSONResponse({"error": {"code": "bad_signature", "message": "not signed by this tenant's Coral"}}, 401)
    try:
        body = CoralRequest.model_validate(json.loads(raw))
    except (ValueError, ValidationError) as exc:
        return JSONResponse({"error": {"code": "invalid_request", "message": str(exc).splitlines()[0]}}, 422)
    if state.runtime is None:
        return JSONResponse({"error": {"code": "unavailable", "message": "the model is still loading"}}, 503)
    return await _moderate(state.runtime, tenant, body, raw)


async def _moderate(runtime: Any, tenant: str, body: CoralRequest, raw: bytes) -> Response:
    text = html.unescape(TAG.sub(" ", body.comment.body)).strip()
    story_id = safe_id(body.story.id)
    inline, article_id = await _article(runtime, tenant, story_id, body.story.url)
    parent_id = safe_id(body.comment.parent_id) if body.comment.parent_id else None
    parent = (await runtime.records.get_many(tenant, [parent_id]))[0] if parent_id else {}
    comment = CommentIn("coral", text, article_id, parent.get("text") or None)
    (outcome,) = await runtime.scorer.analyze(tenant, [comment], article=inline)
    if isinstance(outcome, CommentError):
        return Response(status_code=204)  # nothing to score (an empty body): Coral's own rules apply
    comment_id = "coral-" + hashlib.sha256(raw).hexdigest()[:32]
    queued = IncomingComment(comment_id, text, story_id, article_id, safe_id(body.author.id), parent_id, None)
    await runtime.records.accept(tenant, [queued])  # the worker applies Moderato's rules (queue, audit, webhooks)
    return _answer(outcome.decision, outcome.reasons)


async def _article(runtime: Any, tenant: str, story_id: str, url: str) -> tuple[Article | None, str | None]:
    """(an article to register inline, the comment's article id): the story as registered, else its URL's words."""
    if await runtime.scorer.articles.get(tenant, story_id) is not None:
        return None, story_id
    claim = story_claim(url)
    return (Article(story_id, claim), story_id) if claim else (None, None)
