"""Dependencies as ``Annotated`` aliases, so handlers stay a few lines long. All are ``async def``: FastAPI runs a
plain ``def`` dependency in its thread pool, a thread hop per dependency per request on the hot path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.api.auth import KeyRing, Principal
from service.api.errors import AuthError
from service.config import Settings
from service.errors import Unavailable
from service.scoring.scorer import Scorer

# Reads the header itself (no per-request parameter validation) and documents the scheme in OpenAPI (/docs'
# "Authorize" button); errors stay ours, so auto_error is off.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY`")


async def _principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    keyring: KeyRing = request.app.state.keyring
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise AuthError("send an API key as 'Authorization: Bearer KEY'", status=401)
    principal = keyring.lookup(token)
    if principal is None:
        raise AuthError("unknown API key", status=401)
    return principal


def require(*roles: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting the given roles (admin is always admitted)."""
    allowed = set(roles) | {"admin"}

    async def check(principal: Annotated[Principal, Depends(_principal)]) -> Principal:
        if principal.role not in allowed:
            raise AuthError(f"role {principal.role!r} cannot do this (needs one of {sorted(allowed)})", status=403)
        return principal

    return check


async def _scorer(request: Request) -> Scorer:
    scorer: Scorer | None = getattr(request.app.state, "scorer", None)
    if scorer is None:
        raise Unavailable("the model is still loading")
    return scorer


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


PlatformDep = Annotated[Principal, Depends(require("platform"))]
ModeratorDep = Annotated[Principal, Depends(require("moderator"))]
AdminDep = Annotated[Principal, Depends(require())]
ScorerDep = Annotated[Scorer, Depends(_scorer)]
SettingsDep = Annotated[Settings, Depends(_settings)]
