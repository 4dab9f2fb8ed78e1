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
- The comment is also queued in Moderato (thread = story, author, parent, story URL), so it reaches Moderato's
  review queue and audit log too. Its id is Coral's comment id when the payload carries one (``comment.id``), else
  derived from the request (``coral-<digest>``). Both payload shapes are read: ``tenantID``/``tenantDomain`` and
  the older ``tenant: {id, domain}``.
- The round trip (a tenant with a Coral site, ``MODERATO_CORAL_SITES``): Coral's webhooks
  (``/v1/coral/{tenant}/events``) name the id Coral gave each comment, which links it to its record
  (``moderation/coral_link.py``); a reply's ``parentID`` then leads to its parent's record, an ``EDIT`` within
  Coral's edit window rescores the author's latest comment on the story instead of making another, and a
  moderator's decision in Moderato reaches Coral as ``approveComment`` / ``rejectComment`` (a webhook job to
  Coral's GraphQL API, retried like any webhook).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal, TypeVar
from urllib.parse import unquote, urlsplit

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.api.deps import CoralCallerDep, CoralWebhookCallerDep, RuntimeDep
from service.api.schemas import Text
from service.contract import ID_PATTERN, Decision
from service.errors import Unavailable
from service.model.html_text import html_to_text
from service.moderation import authors, coral_link
from service.moderation.coral_graphql import CoralError, CoralGraphQL
from service.moderation.records import IncomingComment
from service.moderation.rules import apply_standing
from service.moderation.targets import allow_list
from service.scoring.articles import Article
from service.scoring.scorer import CommentError, CommentIn

router = APIRouter(prefix="/v1/coral", tags=["coral"])

SAFE_ID = re.compile(r"[^A-Za-z0-9._:-]")
ParsedT = TypeVar("ParsedT", bound=BaseModel)
EDIT_WINDOW_S = 30  # Coral's default edit window, for a tenant whose Coral site is not configured


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
    return _parse(CoralRequest, raw, "a Coral moderation request")


def _parse(model: type[ParsedT], raw: bytes, what: str) -> ParsedT:
    try:
        return model.model_validate(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        message = "JSON nested too deep" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        problem = {"loc": ("body",), "msg": f"not {what}: {message}", "type": "value_error"}
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
    parent_id = await _parent_record(runtime, tenant, body.comment.parent_id)
    parent = (await runtime.records.get_many(tenant, [parent_id]))[0] if parent_id else {}
    comment = CommentIn("coral", text, article_id, parent.get("text") or None)
    (outcome,) = await runtime.scorer.analyze(tenant, [comment], article=inline)
    if isinstance(outcome, CommentError):
        if outcome.code == "empty_text":
            return Response(status_code=204)  # nothing to moderate: Coral's own rules apply
        return _answer(Decision.REVIEW, [outcome.code])  # unreadable or failed: withheld, never published unseen
    author_id = safe_id(body.author.id)
    await _keep(runtime, tenant, body, text, story_id, author_id, article_id=article_id, parent_id=parent_id)
    # Coral acts on this answer now: the author's standing counts here too, as the worker will count it
    (standing,) = await authors.standings(runtime.redis, tenant, [author_id])
    decision, reasons = apply_standing(Decision(outcome.decision), list(outcome.reasons), False, standing)
    return _answer(decision, reasons)


async def _keep(
    runtime: Any,
    tenant: str,
    body: CoralRequest,
    text: str,
    story_id: str,
    author_id: str,
    *,
    article_id: str | None,
    parent_id: str | None,
) -> None:
    """Queue the comment in Moderato, where the worker applies Moderato's rules (queue, audit, webhooks): an EDIT
    of a comment still in Coral's edit window as a revision of its record, anything else as a record of its own."""
    site = runtime.settings.coral_sites.get(tenant)
    if body.action == "EDIT":
        edited = await coral_link.edited(runtime.redis, tenant, story=story_id, author=author_id)
        if edited is not None:
            await runtime.records.revise(tenant, edited, text)
            return
    if body.comment.id:
        comment_id = safe_id(body.comment.id)
    else:
        comment_id = "coral-" + hashlib.sha256(body.model_dump_json().encode()).hexdigest()[:32]
    queued = IncomingComment(
        comment_id,
        text,
        story_id,
        article_id=article_id,
        author_id=author_id,
        parent_id=parent_id,
        # a moderator's decision goes back to Coral (the model's own answer is the one Coral already applied)
        callback_url=site.graphql_url if site else None,
        story_url=body.story.url or None,
    )
    await runtime.records.accept(tenant, [queued])
    edit_window_s = site.edit_window_s if site else EDIT_WINDOW_S
    await coral_link.remember(
        runtime.redis, tenant, comment_id, story=story_id, author=author_id, text=text, edit_window_s=edit_window_s
    )
    if body.comment.id:  # a Coral that sends its id needs no webhook to link it
        await coral_link.link_known(runtime.redis, tenant, body.comment.id, comment_id)


async def _parent_record(runtime: Any, tenant: str, coral_parent: str | None) -> str | None:
    """The record of the comment a reply answers: through Coral's id once its webhook has linked it, else the
    parent's id as Moderato would have named it (a Coral that sends its ids)."""
    if not coral_parent:
        return None
    return await coral_link.record_of(runtime.redis, tenant, coral_parent) or safe_id(coral_parent)


class CoralEventData(_Strict):
    comment_id: Text | None = Field(default=None, alias="commentID")


class CoralEvent(_Strict):
    type: Text | None = None
    name: Text | None = None  # what some Coral releases call the event's type
    data: CoralEventData = CoralEventData()


LINKED_EVENTS = {"COMMENT_CREATED", "COMMENT_REPLY_CREATED"}


@router.post(
    "/{tenant}/events",
    responses={
        200: {"description": "the event was read: `linked` is the Moderato comment its Coral comment now names"},
        503: {"description": "Coral's GraphQL API could not be read: Coral retries the webhook"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CoralEvent.model_json_schema(by_alias=True)}},
        }
    },
)
async def coral_events(request: Request, principal: CoralWebhookCallerDep, runtime: RuntimeDep) -> Response:
    """Coral's webhook endpoint (Admin > Configure > Webhooks, events ``COMMENT_CREATED`` and
    ``COMMENT_REPLY_CREATED``): links the comment Coral names to the record its external phase made."""
    event = _parse(CoralEvent, await request.body(), "a Coral webhook event")
    kind = event.type or event.name
    if kind not in LINKED_EVENTS or not event.data.comment_id:
        return JSONResponse({"linked": None})  # other events: nothing to do, and Coral must not retry them
    tenant = principal.tenant
    site = runtime.settings.coral_sites[tenant]  # the signature check found it
    async with httpx.AsyncClient(follow_redirects=False) as client:
        try:
            comment = await CoralGraphQL(site, allow_list(runtime.settings, tenant), client).comment(
                event.data.comment_id
            )
        except CoralError as exc:
            raise Unavailable(f"Coral's GraphQL API could not be read: {exc}", code="coral_unreachable") from exc
    if comment is None or comment.story_id is None or comment.author_id is None:
        return JSONResponse({"linked": None})
    linked = await coral_link.link(
        runtime.redis, tenant, comment, story=safe_id(comment.story_id), author=safe_id(comment.author_id)
    )
    return JSONResponse({"linked": linked})


async def _article(runtime: Any, tenant: str, story_id: str, url: str) -> tuple[Article | None, str | None]:
    """(an article to register inline, the comment's article id): the story as registered, else its URL's words."""
    if await runtime.scorer.articles.get(tenant, story_id) is not None:
        return None, story_id
    claim = story_claim(url)
    return (Article(story_id, claim), story_id) if claim else (None, None)
