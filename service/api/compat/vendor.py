"""A compatibility router answers every error in its vendor's shape, translated in one place: the router's route
class wraps each of its routes (dependencies, body validation and handler alike), so a key refused by
``api/deps.py``, a body FastAPI could not parse, a rate limit or a Redis outage all leave as that vendor's error.

Vendor bodies are written with ASCII escapes (``AsciiJSONResponse``): these APIs echo what the caller sent (an
attribute name, a language tag), and a lone surrogate in it cannot be encoded as UTF-8. Escaped, it is valid JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from service.api.errors import STATUS, UNAVAILABLE_RETRY_AFTER_S, AuthError
from service.api.rate_limits import RateLimited
from service.api.state import app_state
from service.errors import ModeratoError
from service.redis_client import FAILURES

log = logging.getLogger(__name__)


class AsciiJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


@dataclass(frozen=True)
class Failure:
    """What went wrong, in terms every vendor can translate.

    :param kind: auth_missing, auth_invalid, forbidden, invalid, not_found, too_large, rate_limited, unavailable
    """

    kind: str
    status: int
    message: str
    headers: dict[str, str] | None = None


Translate = Callable[[Failure, Exception], Response]  # the failure, and the exception it was read from


def failure_of(request: Request, exc: Exception) -> Failure | None:
    """Our exceptions (and FastAPI's, and Redis's) as a Failure; None for anything unexpected (a real 500)."""
    if isinstance(exc, AuthError):
        kind = "forbidden" if exc.status == 403 else "auth_missing" if exc.missing else "auth_invalid"
        return Failure(kind, exc.status, exc.message)
    if isinstance(exc, RateLimited):
        return Failure("rate_limited", 429, exc.message, exc.headers)
    if isinstance(exc, ModeratoError):
        status = next((s for kind, s in STATUS.items() if isinstance(exc, kind)), 400)
        kinds = {404: "not_found", 413: "too_large", 503: "unavailable", 429: "rate_limited"}
        retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)} if status == 503 else None
        return Failure(kinds.get(status, "invalid"), status, exc.message, retry)
    if isinstance(exc, RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "body"
        return Failure("invalid", 400, f"Invalid JSON payload received. {where}: {first.get('msg')}")
    if isinstance(exc, HTTPException):  # FastAPI's own: a body it could not decode (bad UTF-8, nesting too deep)
        return Failure("invalid", 400 if exc.status_code < 500 else exc.status_code, "Invalid JSON payload received.")
    if isinstance(exc, FAILURES):
        app_state(request.app).outage.failed(exc)
        retry = {"Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
        return Failure("unavailable", 503, "the data store is not answering; retry shortly", retry)
    return None


def vendor_route(translate: Translate) -> type[APIRoute]:
    """A route class whose routes answer every known failure through ``translate``."""

    class VendorRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def route(request: Request) -> Response:
                try:
                    return await handler(request)
                except Exception as exc:
                    failure = failure_of(request, exc)
                    if failure is None:
                        raise
                    return translate(failure, exc)

            return route

    return VendorRoute
