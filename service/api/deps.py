"""Dependencies as ``Annotated`` aliases, so handlers stay a few lines long. All are ``async def``: FastAPI runs a
plain ``def`` dependency in its thread pool, a thread hop per dependency per request on the hot path."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from service.api.auth import KeyRing, Principal
from service.api.errors import AuthError
from service.config import Settings
from service.errors import Unavailable
from service.scoring.scorer import Scorer


async def _principal(request: Request, authorization: Annotated[str | None, Header()] = None) -> Principal:
    keyring: KeyRing = request.app.state.keyring
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("send an API key as 'Authorization: Bearer KEY'", status=401)
    principal = keyring.lookup(token.strip())
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
