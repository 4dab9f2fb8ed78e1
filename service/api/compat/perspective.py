"""Perspective API's ``comments:analyze`` and ``comments:suggestscore`` on Moderato, so a site leaving Perspective
changes one URL. The key comes as ``?key=`` (how every Perspective client sends it) or the usual bearer header;
errors are Google's shape (``{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT"}}``).

Scores come from the same scorer, batcher and cache as ``/v1/analyze``; ``doNotStore`` is ``store: false``.
With ``spanAnnotations`` each sentence gets a score from the token head of the same pass (Perspective scores
sentences; ``/v1/analyze`` keeps Moderato's word spans). Offsets are UTF-16 code units, as Perspective's are.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from redis.exceptions import RedisError

from service import redis_keys as keys
from service.api.auth import Principal
from service.api.compat.perspective_schema import (
    ATTRIBUTES,
    SCORE_TYPES,
    AnalyzeCommentRequest,
    Context,
    Entry,
    SuggestCommentScoreRequest,
)
from service.api.deps import StateDep
from service.errors import ModeratoError
from service.scoring.articles import Article
from service.scoring.language import SUPPORTED, detect, primary
from service.scoring.scorer import CommentError, CommentIn, ScoredComment

router = APIRouter(prefix="/v1alpha1", tags=["perspective"])

TAG = re.compile(r"<[^>]*>")


class GoogleError(Exception):
    """An error in Google's API shape: HTTP ``code``, canonical ``status`` (INVALID_ARGUMENT, ...)."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def response(self) -> JSONResponse:
        body = {"error": {"code": self.code, "message": self.message, "status": self.status}}
        return JSONResponse(body, status_code=self.code)


@router.post("/comments:analyze", responses={200: {"description": "Perspective's AnalyzeCommentResponse"}})
async def analyze(request: Request, state: StateDep) -> JSONResponse:
    """Perspective's AnalyzeComment: scores for the requested attributes."""
    try:
        principal = _principal(request, state)
        body = await _parse(request, AnalyzeCommentRequest)
        return JSONResponse(await _analyze(state, principal, body))
    except GoogleError as exc:
        return exc.response()


@router.post("/comments:suggestscore", responses={200: {"description": "Perspective's SuggestCommentScoreResponse"}})
async def suggest_score(request: Request, state: StateDep) -> JSONResponse:
    """Perspective's SuggestCommentScore: a label for training, stored with the tenant and exported by
    `moderato export-labels` beside moderators' decisions."""
    try:
        principal = _principal(request, state)
        body = await _parse(request, SuggestCommentScoreRequest)
        unknown = sorted(set(body.attribute_scores) - set(ATTRIBUTES))
        if unknown:
            raise GoogleError(400, "INVALID_ARGUMENT", f"Unknown attribute(s): {', '.join(unknown)}")
        runtime = _runtime(state)
        entry = {
            "text": _plain(body.comment),
            "scores": json.dumps(
                {n: s.summary_score.value for n, s in body.attribute_scores.items() if s.summary_score is not None}
            ),
            "client_token": body.client_token or "",
            "community_id": body.community_id or "",
            "session_id": body.session_id or "",
            "at": f"{time.time():.3f}",
        }
        try:
            await runtime.redis.sadd(keys.TENANTS, principal.tenant)
            await runtime.redis.xadd(keys.suggested_scores(principal.tenant), entry)
        except RedisError as exc:
            raise GoogleError(503, "UNAVAILABLE", "the data store is not answering; retry shortly") from exc
        out: dict[str, Any] = {"detectedLanguages": [detect(entry["text"]).code]}
        if body.languages:
            out["requestedLanguages"] = body.languages
        if body.client_token:
            out["clientToken"] = body.client_token
        return JSONResponse(out)
    except GoogleError as exc:
        return exc.response()


def _principal(request: Request, state: Any) -> Principal:
    token = request.query_params.get("key", "")
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = token or (bearer.strip() if scheme.lower() == "bearer" else "")
    if not token:
        raise GoogleError(403, "PERMISSION_DENIED", "The request is missing a valid API key.")
    principal: Principal | None = state.keyring.lookup(token)
    if principal is None:
        raise GoogleError(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
    if principal.role not in ("platform", "admin"):
        raise GoogleError(403, "PERMISSION_DENIED", f"A {principal.role} key cannot analyze comments.")
    return principal


async def _parse(request: Request, model: Any) -> Any:
    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise GoogleError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.") from exc
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise GoogleError(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {where}: {first['msg']}") from exc


def _runtime(state: Any) -> Any:
    if state.runtime is None:
        raise GoogleError(503, "UNAVAILABLE", "The service is starting; retry shortly.")
    return state.runtime


def _plain(entry: Entry) -> str:
    """The text a TextEntry says: HTML loses its tags (and its entities are decoded)."""
    return html.unescape(TAG.sub(" ", entry.text)) if entry.type == "HTML" else entry.text


def _attributes(body: AnalyzeCommentRequest, language: str) -> dict[str, str]:
    """Requested Perspective names -> Moderato attributes; what cannot be scored is Perspective's 400 (or dropped,
    with dropUnsupportedAttributes)."""
    wanted = {}
    for name, params in body.requested_attributes.items():
        problem = None
        if name not in ATTRIBUTES:
            problem = f"Attribute {name} is not supported by this service."
        elif language not in SUPPORTED:
            problem = f"Attribute {name} does not support request languages: {language}"
        elif params.score_type and params.score_type not in SCORE_TYPES:
            problem = f"Attribute {name} does not support score type {params.score_type}"
        if problem and not body.drop_unsupported_attributes:
            raise GoogleError(400, "INVALID_ARGUMENT", problem)
        if not problem:
            wanted[name] = ATTRIBUTES[name]
    return wanted


def _context(body: AnalyzeCommentRequest) -> tuple[Article | None, str | None]:
    """The article (and parent comment) a request's context gives: entries are the article, in order."""
    context: Context | None = body.context
    if context is None:
        return None, None
    if context.entries and context.article_and_parent_comment:
        raise GoogleError(400, "INVALID_ARGUMENT", "Context: populate only one of entries, articleAndParentComment.")
    parent = None
    texts = [_plain(e) for e in context.entries or []]
    if context.article_and_parent_comment is not None:
        pair = context.article_and_parent_comment
        texts = [_plain(pair.article)] if pair.article else []
        parent = _plain(pair.parent_comment) if pair.parent_comment else None
    texts = [t.strip() for t in texts if t.strip()]
    if not texts:
        return None, parent
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    title, rest = texts[0][:1000], "\n".join(texts[1:])
    return Article(f"ctx-{digest}", title, rest[:100_000]), parent


async def _analyze(state: Any, principal: Principal, body: AnalyzeCommentRequest) -> dict[str, Any]:
    text = _plain(body.comment)
    declared = [primary(code) for code in body.languages or []]
    detected = detect(text).code
    language = next((code for code in declared if code in SUPPORTED), declared[0] if declared else detected)
    wanted = _attributes(body, language)
    article, parent = _context(body)
    runtime = _runtime(state)
    comment = CommentIn("comment", text, article.id if article else None, parent, language)
    try:
        (outcome,) = await runtime.scorer.analyze(
            principal.tenant, [comment], article=article, store=not body.do_not_store
        )
    except ModeratoError as exc:  # an article Moderato cannot take, or a store that is down
        if exc.code == "invalid_article":
            raise GoogleError(400, "INVALID_ARGUMENT", f"Context: {exc.message}") from exc
        raise GoogleError(503, "UNAVAILABLE", exc.message) from exc
    if isinstance(outcome, CommentError):
        raise GoogleError(400, "INVALID_ARGUMENT", f"Comment text: {outcome.message}")
    return _response(body, outcome, wanted, text, declared, detected)


def _response(
    body: AnalyzeCommentRequest,
    outcome: ScoredComment,
    wanted: dict[str, str],
    text: str,
    declared: list[str],
    detected: str,
) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for name, attribute in wanted.items():
        value = outcome.scores[attribute]
        threshold = body.requested_attributes[name].score_threshold
        if threshold is not None and value < threshold:
            continue  # Perspective leaves out scores under the caller's threshold
        entry: dict[str, Any] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if body.span_annotations:
            # One score per sentence from the token head; for attributes other than toxicity it is the same
            # sentence score, bounded by that attribute's own summary.
            entry["spanScores"] = [
                {
                    "begin": utf16_offset(text, start),
                    "end": utf16_offset(text, end),
                    "score": {
                        "value": round(min(score, value) if attribute != "toxicity" else score, 4),
                        "type": "PROBABILITY",
                    },
                }
                for start, end, score in outcome.sentences
            ]
        scores[name] = entry
    # as Perspective: the languages the scores are for (the request's, else the detected one), and the detected
    out: dict[str, Any] = {
        "attributeScores": scores,
        "languages": declared or [detected],
        "detectedLanguages": [detected],
    }
    if body.client_token:
        out["clientToken"] = body.client_token
    return out


def utf16_offset(text: str, index: int) -> int:
    """A code point index of ``text`` as a UTF-16 code unit index (characters past U+FFFF count twice)."""
    return index + sum(1 for c in text[:index] if ord(c) > 0xFFFF)
