"""Dependencies as ``Annotated`` aliases, so handlers stay a few lines long. All are ``async def``: FastAPI runs a
plain ``def`` dependency in its thread pool, a thread hop per dependency per request on the hot path."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

import redis.asyncio as aioredis
from fastapi import Depends, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.auth import Principal
from service.api.errors import AuthError
from service.api.schemas import Text
from service.api.sessions import COOKIE, CSRF_HEADER, Session, csrf_ok
from service.api.state import AppState, app_state
from service.config import Settings
from service.contract import ID_PATTERN, one_of_pattern
from service.errors import Unavailable
from service.model.labels import ATTRIBUTES, PARENT_STANCES, STANCES
from service.moderation.accounts import Accounts
from service.moderation.queues import Filters, ReviewQueues
from service.moderation.records import Records
from service.runtime import Runtime
from service.scoring.scorer import Scorer

# Reads the header itself (no per-request parameter validation) and documents the scheme in OpenAPI (/docs'
# "Authorize" button); errors stay ours, so auto_error is off.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`")
CORAL_SIGNATURE_HEADER = "X-Coral-Signature"


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


async def _principal(request: Request, state: AppState, token: str) -> Principal:
    """The caller behind an API key (bearer or, where a route admits it, ``?key=``), else the page's session."""
    if token:
        principal = state.keyring.lookup(token)
        if principal is None:
            raise AuthError("unknown API key", status=401)
        return principal
    session = await page_session(request, state)  # read only when no key is sent: API clients cost no Redis read
    if session is None:
        raise AuthError(
            "send an API key as 'Authorization: Bearer KEY' (or sign in at /moderate)", status=401, missing=True
        )
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


async def admit(state: AppState, principal: Principal, allowed: set[str], response: Response) -> Principal:
    """Roles, then the key's rate limit (its headers on the answer): what every way of calling passes through."""
    if principal.role not in allowed:
        raise AuthError(f"role {principal.role!r} cannot do this (needs one of {sorted(allowed)})", status=403)
    if state.rate_limits is not None:
        response.headers.update((await state.rate_limits.check(principal)).headers)
    return principal


def require(*roles: str, query_key: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the given roles (admin is always admitted), within the key's rate limit.

    :param query_key: also take the key from ``?key=`` (how every Perspective client sends it); elsewhere a key in
        a URL would end up in access logs, so only the bearer header and the page's session count.
    """
    allowed = set(roles) | {"admin"}

    async def check(
        request: Request,
        state: StateDep,
        response: Response,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        token = credentials.credentials.strip() if credentials else ""
        if not token and query_key:
            token = request.query_params.get("key", "").strip()
        return await admit(state, await _principal(request, state, token), allowed, response)

    return check


async def coral_caller(
    request: Request,
    state: StateDep,
    response: Response,
    tenant: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="the Moderato tenant")],
) -> Principal:
    """Coral's external moderation phase: the body signed with one of the tenant's Coral secrets
    (``X-Coral-Signature: sha256=<hex HMAC-SHA256(secret, body)>``, one per active secret, comma-separated)."""
    secrets = [s.get_secret_value() for s in state.settings.coral_signing_secrets.get(tenant, [])]
    return await _coral_signed(request, state, response, tenant, secrets)


async def coral_webhook_caller(
    request: Request,
    state: StateDep,
    response: Response,
    tenant: Annotated[str, Path(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="the Moderato tenant")],
) -> Principal:
    """Coral's webhooks (Admin > Configure > Webhooks), signed as the phase is, with that endpoint's secrets."""
    site = state.settings.coral_sites.get(tenant)
    secrets = [s.get_secret_value() for s in site.webhook_secrets] if site else []
    return await _coral_signed(request, state, response, tenant, secrets)


async def _coral_signed(
    request: Request, state: AppState, response: Response, tenant: str, secrets: list[str]
) -> Principal:
    header = request.headers.get(CORAL_SIGNATURE_HEADER, "")
    if not secrets or not signed_by(secrets, await request.body(), header):
        raise AuthError("not signed by this tenant's Coral", status=401, missing=not header)
    return await admit(state, Principal(tenant, "platform", "coral"), {"platform"}, response)


def signed_by(secrets: list[str], body: bytes, header: str) -> bool:
    """Whether any of Coral's signatures in ``header`` is ours over ``body`` (constant-time compares)."""
    expected = [f"sha256={hmac.new(s.encode(), body, hashlib.sha256).hexdigest()}".encode() for s in secrets]
    given = [part.strip().encode("utf-8", "surrogateescape") for part in header.split(",") if part.strip()]
    return any(hmac.compare_digest(e, g) for e in expected for g in given)


async def _runtime(state: StateDep) -> Runtime:
    if state.runtime is None:
        raise Unavailable("the model is still loading")
    return state.runtime


RuntimeDep = Annotated[Runtime, Depends(_runtime)]


async def _accounts(state: StateDep) -> Accounts:
    if state.accounts is None:
        raise Unavailable("the service is starting")
    return state.accounts


AccountsDep = Annotated[Accounts, Depends(_accounts)]


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
PerspectiveCallerDep = Annotated[Principal, Depends(require("platform", query_key=True))]
CoralCallerDep = Annotated[Principal, Depends(coral_caller)]
CoralWebhookCallerDep = Annotated[Principal, Depends(coral_webhook_caller)]
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
ErasureReason = Annotated[
    Text, Query(max_length=500, description="why, for the audit log (e.g. a request's reference)")
]
ThreadId = Annotated[str, Path(pattern=ID_PATTERN, description="a thread or article id")]


def _filters(
    thread: str | None = None,
    attribute: str | None = Query(default=None, pattern=one_of_pattern(ATTRIBUTES)),
    stance: str | None = Query(default=None, pattern=one_of_pattern(STANCES)),
    stance_to_parent: str | None = Query(default=None, pattern=one_of_pattern(PARENT_STANCES)),
) -> Filters:
    """A list's filters, as the queues and the decided views take them (a stance filter means a confident label)."""
    return Filters(thread, attribute, stance, stance_to_parent)


FiltersDep = Annotated[Filters, Depends(_filters)]
