"""Perspective API's ``comments:analyze`` and ``comments:suggestscore`` on Moderato, so a site leaving Perspective
changes one URL. The key comes as ``?key=`` (how every Perspective client sends it) or the usual bearer header,
through the same principal, roles and rate limit as every route (``api/deps.py``); errors are Google's shape
(``{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT", "details": [{"@type": ..., "errorType"}]}}``),
translated from ours in one place (the router's route class).

Scores come from the same scorer, batcher and cache as ``/v1/analyze``; ``doNotStore`` is ``store: false``.
With ``spanAnnotations`` each sentence gets a score per requested attribute from the span head of the same pass
(Perspective scores sentences; ``/v1/analyze`` keeps Moderato's word spans). Offsets are UTF-16 code units, as
Perspective's are. Language is always detected: a ``languages`` hint never makes a text the model cannot read look
readable (Coral's Perspective integration sends ``["en"]`` for every comment).
"""

from __future__ import annotations

import hashlib
from typing import Any

from fastapi import APIRouter, Response

from service.api.auth import Principal
from service.api.compat.perspective_schema import (
    ATTRIBUTES,
    SCORE_TYPES,
    AnalyzeCommentRequest,
    Context,
    Entry,
    SuggestCommentScoreRequest,
)
from service.api.compat.vendor import AsciiJSONResponse, Failure, vendor_route
from service.api.deps import PerspectiveCallerDep, RuntimeDep
from service.errors import InvalidInput
from service.model.html_text import html_to_text
from service.moderation.suggestions import Suggestion, record_suggestion
from service.scoring.articles import Article
from service.scoring.language import SUPPORTED, detect, primary
from service.scoring.scorer import CommentError, CommentIn, ScoredComment

MAX_COMMENT_BYTES = 20_480  # Perspective's limit on a comment's text (UTF-8 bytes)
ERROR_TYPE = "type.googleapis.com/google.commentanalyzer.v1alpha1.Error"
CANONICAL = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 413: "INVALID_ARGUMENT",
             429: "RESOURCE_EXHAUSTED", 503: "UNAVAILABLE"}  # fmt: skip


class GoogleError(InvalidInput):
    """A 400 that Perspective's clients branch on: ``error_type`` goes into ``details[].errorType`` (with ``extra``
    fields beside it, e.g. ``languageNotSupportedByAttributeError``)."""

    def __init__(self, message: str, error_type: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.error_type, self.extra = error_type, extra


def google_error(failure: Failure, error_type: str | None = None, extra: dict[str, Any] | None = None) -> Response:
    """Any failure in Google's error shape."""
    code, message = failure.status, failure.message
    if failure.kind == "auth_missing":
        code, message = 403, "The request is missing a valid API key."
    elif failure.kind == "auth_invalid":
        code, message = 400, "API key not valid. Please pass a valid API key."
    error: dict[str, Any] = {"code": code, "message": message, "status": CANONICAL.get(code, "UNKNOWN")}
    if error_type:
        error["details"] = [{"@type": ERROR_TYPE, "errorType": error_type, **(extra or {})}]
    return AsciiJSONResponse({"error": error}, status_code=code, headers=failure.headers)


def _translate(failure: Failure, exc: Exception) -> Response:
    if isinstance(exc, GoogleError):
        return google_error(failure, exc.error_type, exc.extra)
    return google_error(failure)


router = APIRouter(prefix="/v1alpha1", tags=["perspective"], route_class=vendor_route(_translate))


@router.post("/comments:analyze", responses={200: {"description": "Perspective's AnalyzeCommentResponse"}})
async def analyze(body: AnalyzeCommentRequest, principal: PerspectiveCallerDep, runtime: RuntimeDep) -> Response:
    """Perspective's AnalyzeComment: scores for the requested attributes."""
    return AsciiJSONResponse(await _analyze(runtime, principal, body))


@router.post("/comments:suggestscore", responses={200: {"description": "Perspective's SuggestCommentScoreResponse"}})
async def suggest_score(
    body: SuggestCommentScoreRequest, principal: PerspectiveCallerDep, runtime: RuntimeDep
) -> Response:
    """Perspective's SuggestCommentScore: a label for training, stored with the tenant and exported by
    `moderato export-labels` beside moderators' decisions."""
    unknown = sorted(set(body.attribute_scores) - set(ATTRIBUTES))
    if unknown:
        raise InvalidInput(f"Unknown attribute(s): {', '.join(unknown)}")
    text = plain_text(body.comment)
    scores = {n: s.summary_score.value for n, s in body.attribute_scores.items() if s.summary_score is not None}
    suggestion = Suggestion(
        text,
        scores,
        {ATTRIBUTES[name]: value for name, value in scores.items() if name in ATTRIBUTES},
        runtime.scorer.models.current(principal.tenant).version,
        body.client_token or "",
        body.community_id or "",
        body.session_id or "",
    )
    await record_suggestion(runtime.redis, principal.tenant, suggestion)
    out: dict[str, Any] = {"detectedLanguages": [detect(text).code]}
    if body.languages:
        out["requestedLanguages"] = body.languages
    if body.client_token:
        out["clientToken"] = body.client_token
    return AsciiJSONResponse(out)


def plain_text(entry: Entry) -> str:
    """The text a TextEntry says: HTML is read by an HTML parser (its tags and entities are not words)."""
    return html_to_text(entry.text) if entry.type == "HTML" else entry.text


def _attributes(body: AnalyzeCommentRequest, unreadable: list[str], detected: str) -> dict[str, str]:
    """Requested Perspective names -> Moderato attributes; what cannot be scored is Perspective's 400 (or dropped,
    with dropUnsupportedAttributes). ``unreadable``: the languages (requested or detected) the model does not read."""
    wanted = {}
    for name, params in body.requested_attributes.items():
        problem: GoogleError | None = None
        if name not in ATTRIBUTES:
            problem = GoogleError(f"Attribute {name} is not supported by this service.")
        elif unreadable:
            problem = GoogleError(
                f"Attribute {name} does not support request languages: {','.join(unreadable)}",
                "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                languageNotSupportedByAttributeError={
                    "detectedLanguages": [detected],
                    "requestedLanguages": body.languages or [],
                    "attribute": name,
                },
            )
        elif params.score_type and params.score_type not in SCORE_TYPES:
            problem = GoogleError(f"Attribute {name} does not support score type {params.score_type}")
        if problem and not body.drop_unsupported_attributes:
            raise problem
        if not problem:
            wanted[name] = ATTRIBUTES[name]
    return wanted


def _context(body: AnalyzeCommentRequest) -> tuple[Article | None, str | None]:
    """The article (and parent comment) a request's context gives: entries are the article, in order."""
    context: Context | None = body.context
    if context is None:
        return None, None
    if context.entries and context.article_and_parent_comment:
        raise GoogleError("Context: populate only one of entries, articleAndParentComment.")
    parent = None
    texts = [plain_text(e) for e in context.entries or []]
    if context.article_and_parent_comment is not None:
        pair = context.article_and_parent_comment
        texts = [plain_text(pair.article)] if pair.article else []
        parent = plain_text(pair.parent_comment) if pair.parent_comment else None
    texts = [t.strip() for t in texts if t.strip()]
    if not texts:
        return None, parent
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8", "surrogatepass")).hexdigest()[:24]
    title, rest = texts[0][:1000], "\n".join(texts[1:])
    return Article(f"ctx-{digest}", title, rest[:100_000]), parent


async def _analyze(runtime: Any, principal: Principal, body: AnalyzeCommentRequest) -> dict[str, Any]:
    text = plain_text(body.comment)
    if not text.strip():
        raise GoogleError("Comment must be non-empty.", "COMMENT_EMPTY")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_COMMENT_BYTES:
        raise GoogleError(f"Comment text too long: the limit is {MAX_COMMENT_BYTES} bytes.", "COMMENT_TOO_LONG")
    detected = detect(text)
    requested = [primary(code) for code in body.languages or []]
    unreadable = [code for code in requested if code not in SUPPORTED]
    if not detected.supported:  # whatever the caller declared
        unreadable.append(detected.code)
    wanted = _attributes(body, unreadable, detected.code)
    article, parent = _context(body)
    comment = CommentIn("comment", text, article.id if article else None, parent)
    (outcome,) = await runtime.scorer.analyze(principal.tenant, [comment], article=article, store=not body.do_not_store)
    if isinstance(outcome, CommentError):
        raise GoogleError(f"Comment text: {outcome.message}")
    return _response(body, outcome, wanted, text, detected.code)


def _response(
    body: AnalyzeCommentRequest, outcome: ScoredComment, wanted: dict[str, str], text: str, detected: str
) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for name, attribute in wanted.items():
        value = outcome.scores[attribute]
        threshold = body.requested_attributes[name].score_threshold
        if threshold is not None and value < threshold:
            continue  # Perspective leaves out scores under the caller's threshold
        entry: dict[str, Any] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if body.span_annotations:
            entry["spanScores"] = [
                {
                    "begin": utf16_offset(text, start),
                    "end": utf16_offset(text, end),
                    "score": {"value": score, "type": "PROBABILITY"},
                }
                for start, end, score in sentence_spread(outcome.sentences, attribute, value)
            ]
        scores[name] = entry
    # as Perspective: the languages as the caller sent them (else the detected one), and the detected one
    out: dict[str, Any] = {
        "attributeScores": scores,
        "languages": body.languages or [detected],
        "detectedLanguages": [detected],
    }
    if body.client_token:
        out["clientToken"] = body.client_token
    return out


def sentence_spread(
    sentences: list[tuple[int, int, dict[str, float]]], attribute: str, summary: float
) -> list[tuple[int, int, float]]:
    """Each sentence's score for ``attribute``: the comment's (calibrated) summary score spread over its sentences
    by the span head's reading of each, so the worst sentence carries the summary and a sentence the span head
    finds nothing in scores near zero. Severe toxicity has no span type of its own: it follows toxicity's reading."""
    reading = attribute if all(attribute in s for _, _, s in sentences) else "toxicity"
    raw = [s.get(reading, 0.0) for _, _, s in sentences]
    top = max(raw, default=0.0)
    return [
        (start, end, round(summary * r / top, 4) if top > 0 else 0.0)
        for (start, end, _), r in zip(sentences, raw, strict=True)
    ]


def utf16_offset(text: str, index: int) -> int:
    """A code point index of ``text`` as a UTF-16 code unit index (characters past U+FFFF count twice)."""
    return index + sum(1 for c in text[:index] if ord(c) > 0xFFFF)
