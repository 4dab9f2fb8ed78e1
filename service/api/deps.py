"""Dependencies as ``Annotated`` aliases, so handlers stay a few lines long. All are ``async def``: FastAPI runs a
plain ``def`` dependency in its thread pool, a thread hop per dependency per request on the hot path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.auth import Principal
from service.api.errors import AuthError
from service.api.sessions import COOKIE, CSRF_HEADER, Session, csrf_ok
from service.api.state import AppState, app_state
from service.config import Settings
from service.contract import ID_PATTERN
from service.errors import Unavailable
from service.moderation.queues import ReviewQueues
from service.moderation.records import Records
from service.runtime import Runtime
from service.scoring.scorer import Scorer

# Reads the header itself (no per-request parameter validation) and documents the scheme in OpenAPI (/docs'
# "Authorize" button); errors stay ours, so auto_error is off.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`")


async def _state(request: Request) -> AppState:
    return app_state(request.app)


StateDep = Annotated[AppState, Depends(_state)]


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


async def page_session(request: Request, state: StateDep) -> Session | None:
    """The moderator page's session, when the request carries a live session cookie."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or state.sessions is None:
        return None
    return await state.sessions.read(cookie)


PageSessionDep = Annotated[Session | None, Depends(page_session)]


async def _principal(
    request: Request, state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    token = credentials.credentials.strip() if credentials else ""
    if token:
        principal = state.keyring.lookup(token)
        if principal is None:
            raise AuthError("unknown API key", status=401)
        return principal
    session = await page_session(request, state)  # read only when no key is sent: API clients cost no Redis read
    if session is None:
        raise AuthError("send an API key as 'Authorization: Bearer KEY' (or sign in at /moderate)", status=401)
    # A cookie rides along with any request the browser makes, another site's forms included: a change needs the
    # token only our page can read, sent from our own origin.
    changes = request.method not in SAFE_METHODS
    if changes and not (csrf_ok(session, request.headers.get(CSRF_HEADER)) and same_origin(request)):
        raise AuthError("missing or wrong CSRF token: reload the page", status=403)
    return session.principal


def same_origin(request: Request) -> bool:
    """Whether the request's Origin (when the browser sends one) is this server's own."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the given roles (admin is always admitted), within the key's rate limit."""
    allowed = set(roles) | {"admin"}

    async def check(
        principal: Annotated[Principal, Depends(_principal)], state: StateDep, response: Response
    ) -> Principal:
        if principal.role not in allowed:
            raise AuthError(f"role {principal.role!r} cannot do this (needs one of {sorted(allowed)})", status=403)
        if state.rate_limits is not None:
            response.headers.update((await state.rate_limits.check(principal)).headers)
        return principal

    return check


async def _runtime(state: StateDep) -> Runtime:
    if state.runtime is None:
        raise Unavailable("the model is still loading")
    return state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _scorer(runtime: RuntimeDep) -> Scorer:
    return runtime.scorer


async def _records(runtime: RuntimeDep) -> Records:
    return runtime.records


async def _queues(runtime: RuntimeDep) -> ReviewQueues:
    return runtime.queues


async def _redis(runtime: RuntimeDep) -> aioredis.Redis:
    return runtime.redis


async def _settings(state: StateDep) -> Settings:
    return state.settings


PlatformDep = Annotated[Principal, Depends(require("platform"))]
ModeratorDep = Annotated[Principal, Depends(require("moderator"))]
ReaderDep = Annotated[Principal, Depends(require("platform", "moderator"))]
AdminDep = Annotated[Principal, Depends(require())]
ScorerDep = Annotated[Scorer, Depends(_scorer)]
RecordsDep = Annotated[Records, Depends(_records)]
QueuesDep = Annotated[ReviewQueues, Depends(_queues)]
RedisDep = Annotated[aioredis.Redis, Depends(_redis)]
SettingsDep = Annotated[Settings, Depends(_settings)]

# Ids in paths: the same alphabet as ids in bodies, so anything accepted can be addressed.
CommentId = Annotated[str, Path(pattern=ID_PATTERN, description="a comment id")]
ThreadId = Annotated[str, Path(pattern=ID_PATTERN, description="a thread or article id")]
