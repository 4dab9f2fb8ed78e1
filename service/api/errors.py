"""Every error leaves the API as ``{"error": {"code", "message"}}`` with the right status, never a bare 500."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import RedisClusterException, RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.api.rate_limits import RateLimited
from service.api.schemas import ErrorEnvelope
from service.api.state import app_state
from service.errors import Backpressure, Conflict, InvalidInput, ModeratoError, NotFound, TooLarge, Unavailable

log = logging.getLogger(__name__)

UNAVAILABLE_RETRY_AFTER_S = 2
BODY_PARSE_ERROR = "There was an error parsing the body"  # fastapi.routing's detail for an undecodable body
STATUS = {InvalidInput: 400, TooLarge: 413, NotFound: 404, Conflict: 409, Unavailable: 503, Backpressure: 429}
# A comment's own error inside a batch answer (the request itself succeeded): its code, and the status it would have
# had alone. Scoring names the problem; only the API knows HTTP.
COMMENT_ERROR_STATUS = {"empty_text": 400, "invalid_text": 422, "model_error": 500}


def comment_error_status(code: str) -> int:
    return COMMENT_ERROR_STATUS.get(code, 400)


# Every error status the API can answer, declared on every route so /docs and generated clients know the envelope.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorEnvelope, "description": what}
    for status, what in {
        400: "malformed request (bad JSON, cursor or decision)",
        401: "no API key, or an unknown one",
        403: "the key's role may not do this",
        404: "no such comment, queue or route",
        409: "conflict (claimed by someone else, not scored yet, not in a queue)",
        413: "body, text or batch too large",
        422: "a field is invalid",
        429: "rate limit or ingest backlog reached (see Retry-After)",
        503: "Redis or the model is unavailable (see Retry-After)",
    }.items()
}


# The compatibility shapes answer errors in their own APIs' shapes (Google's, OpenAI's): declared, without our
# envelope's schema.
COMPAT_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": what, "content": {"application/json": {"schema": {"type": "object"}}}}
    for status, what in {
        400: "invalid request, key or attribute (that API's error shape)",
        401: "no valid key or signature",
        403: "the key may not do this",
        404: "no such resource",
        413: "body too large",
        422: "a field is invalid",
        429: "rate limit reached",
        503: "Redis or the model is unavailable",
    }.items()
}


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=status, headers=headers)


class AuthError(ModeratoError):
    """Raised by the auth dependency: 401 without a valid key, 403 with the wrong role.

    :param missing: no credentials were sent at all (some vendor shapes answer that apart from a wrong key).
    """

    def __init__(self, message: str, *, status: int, missing: bool = False) -> None:
        super().__init__(message, code="unauthorized" if status == 401 else "forbidden")
        self.status = status
        self.missing = missing


async def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModeratoError)
    if isinstance(exc, AuthError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.code, exc.message, headers=headers)
    status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
    headers = None
    if isinstance(exc, RateLimited):
        return error_response(429, exc.code, exc.message, headers=exc.headers)
    if isinstance(exc, Backpressure):
        headers = {"Retry-After": str(exc.retry_after_s)}
    elif isinstance(exc, Unavailable):
        headers = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
    return error_response(status, exc.code, exc.message, headers=headers)


async def _redis(request: Request, exc: Exception) -> JSONResponse:
    """Redis down, hung or restarting: 503 with Retry-After, nothing half-done (every write is one script or
    transaction), and the caller may retry."""
    app_state(request.app).outage.failed(exc)
    return error_response(
        503,
        "redis_unavailable",
        "the data store is not answering; retry shortly",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)},
    )


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    details = [{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"][1:]) or "body"
    return error_response(422, "invalid_request", f"{where}: {first['msg']}", details)


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and str(exc.detail) == BODY_PARSE_ERROR:
        # FastAPI's own answer for a body it could not decode (invalid UTF-8, JSON nested past the parser's depth)
        return error_response(400, "malformed_json", "the request body is not valid JSON in UTF-8")
    codes = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http_error"),
        str(exc.detail),
        headers=getattr(exc, "headers", None),
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal error; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ModeratoError, _domain)
    app.add_exception_handler(RedisError, _redis)
    app.add_exception_handler(RedisClusterException, _redis)  # a cluster between a master's death and its successor
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
