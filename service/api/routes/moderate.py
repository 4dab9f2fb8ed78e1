"""The moderator page: GET /moderate (sign-in, or the page with its first queue page inline), sign-in and sign-out.

Everything the page does afterwards goes through the same /v1 endpoints an API client uses, authenticated by the
session cookie and, for changes, its CSRF token (deps.py).
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from service import redis_keys as keys
from service import ui
from service.api.auth import Principal, key_digest
from service.api.deps import PageSessionDep, StateDep, same_origin
from service.api.oidc import OidcClient, SignInRefused, tenant_of_state
from service.api.sessions import COOKIE, PAGE_ROLES, Session, csrf_ok
from service.api.state import AppState
from service.config import Settings
from service.contract import QUEUES, Queue
from service.errors import Conflict, InvalidInput
from service.model.labels import ATTRIBUTES, PARENT_STANCES, STANCES
from service.moderation.accounts import LockedOut
from service.moderation.events import last_event_id
from service.moderation.queues import list_queue
from service.moderation.targets import allow_list
from service.runtime import Runtime

router = APIRouter(prefix="/moderate", tags=["moderator page"], include_in_schema=False)

FIRST_PAGE = 50  # queue items in the page as served


@router.get("", response_class=HTMLResponse)
async def page(request: Request, state: StateDep, session: PageSessionDep) -> Response:
    """The page for a signed-in moderator; the sign-in form otherwise."""
    if session is None or state.runtime is None:
        message = "The service is starting; try again in a moment." if state.runtime is None else None
        return _signin(message, status=503 if state.runtime is None else 200)
    data = await page_data(state.runtime, state.settings, session.principal)
    html = ui.render("moderate.html", data=data, csrf=session.csrf, principal=session.principal)
    return HTMLResponse(html, headers=ui.PAGE_HEADERS)


async def page_data(runtime: Runtime, settings: Settings, principal: Principal) -> dict[str, Any]:
    """What the page shows at first paint, so it needs no second round trip to draw the queue."""
    tenant = principal.tenant
    after = await last_event_id(runtime.redis, tenant)  # before the reads: nothing changes unseen in between
    first = await list_queue(runtime.queues, tenant, Queue.REVIEW, cursor=None, limit=FIRST_PAGE)
    return {
        "moderator": principal.name,
        "role": principal.role,
        "tenant": tenant,
        "queue": Queue.REVIEW,
        "queues": list(QUEUES),
        "counts": await runtime.queues.counts(tenant),
        "items": first.items,
        "next_cursor": first.next_cursor,
        "after": after,
        "reasons": settings.reasons_for(tenant),
        "batch": settings.page_batch,
        "lease_s": settings.lease_s,
        "attributes": list(ATTRIBUTES),
        "stances": list(STANCES),
        "parent_stances": list(PARENT_STANCES),
    }


@router.post("/session", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    state: StateDep,
    key: Annotated[str, Form(max_length=512)] = "",
    tenant: Annotated[str, Form(max_length=64)] = "",
    account: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    """Sign in as a person (tenant, account and password) or with a moderator or admin key, for a session cookie;
    neither the key nor the password is ever stored in the browser."""
    if state.sessions is None or state.accounts is None:
        return _signin("The service is starting; try again in a moment.", status=503)
    if not same_origin(request):
        return _signin("Sign in from this server's own page.", status=403)
    client = request.client.host if request.client else "-"
    limits = state.rate_limits
    if limits is not None and not await limits.sign_in_allowed(client):
        return _signin("Too many failed sign-ins from this address; wait a minute and try again.", status=429)
    if account.strip():
        return await _account_sign_in(request, state, client, tenant.strip(), account.strip(), password)
    digest = key_digest(key.strip())
    principal = state.keyring.by_digest(digest) if key.strip() else None
    if principal is None:
        if limits is not None:
            await limits.sign_in_failed(client)
        return _signin("That key is not known here. Check it and try again.", status=401)
    if principal.role not in PAGE_ROLES:
        return _signin("That is a platform key; the page needs a moderator or admin key.", status=403)
    return _signed_in(request, await state.sessions.open(principal, digest))


async def _account_sign_in(
    request: Request, state: AppState, client: str, tenant: str, name: str, password: str
) -> Response:
    assert state.accounts is not None and state.sessions is not None  # checked by the caller
    try:
        account = await state.accounts.verify(tenant, name.lower(), password) if tenant else None
    except LockedOut as locked:
        minutes = max(1, math.ceil((locked.until - time.time()) / 60))
        message = f"This account is locked after too many wrong passwords: try again in {minutes} min, or ask an admin."
        return _signin(message, status=429, tenant=tenant, account=name)
    if account is None:
        if state.rate_limits is not None:
            await state.rate_limits.sign_in_failed(client)
        return _signin("That account and password do not match.", status=401, tenant=tenant, account=name)
    return _signed_in(request, await state.sessions.open_for_account(account))


def _signed_in(request: Request, session: Session, *, via_page: bool = False) -> Response:
    response: Response
    if via_page:
        response = _moving_on("/moderate", "Signed in", "Open the moderators' page")
    else:
        response = RedirectResponse("/moderate", status_code=303, headers=ui.PAGE_HEADERS)
    response.set_cookie(
        COOKIE,
        session.cookie,
        max_age=keys.SESSION_TTL_S,
        path="/",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="strict",
    )
    return response


@router.get("/oidc", response_class=HTMLResponse)
async def oidc_start(request: Request, state: StateDep, tenant: Annotated[str, Query(max_length=64)] = "") -> Response:
    """Sign in through the site's identity provider: off to its login page, with state, nonce and PKCE."""
    site = state.settings.oidc.get(tenant.strip())
    if site is None or state.runtime is None:
        return _signin("This site does not sign in through an identity provider here.", status=404, tenant=tenant)
    client = OidcClient(tenant.strip(), site, allow_list(state.settings, tenant.strip()), state.runtime.redis)
    target = await client.start(str(request.url_for("oidc_callback")))
    # A page that moves on by itself, not a redirect: the page's CSP lets its forms reach this server only
    # (form-action 'self'), and that covers where a form's answer redirects to
    return _moving_on(target, "Signing in through your organisation", "Continue to its sign-in page")


@router.get("/oidc/callback", response_class=HTMLResponse, name="oidc_callback")
async def oidc_callback(
    request: Request,
    state: StateDep,
    code: Annotated[str, Query(max_length=2048)] = "",
    returned: Annotated[str, Query(alias="state", max_length=256)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """The provider's answer: the code exchanged, the ID token verified, the person's account and session."""
    if error or not code:
        return _signin("The identity provider did not sign you in.", status=400)
    try:
        tenant = tenant_of_state(returned)
    except InvalidInput:
        return _signin("This sign-in link is not valid. Sign in again.", status=400)
    site = state.settings.oidc.get(tenant)
    if site is None or state.runtime is None or state.accounts is None or state.sessions is None:
        return _signin("This site does not sign in through an identity provider here.", status=404)
    client = OidcClient(tenant, site, allow_list(state.settings, tenant), state.runtime.redis)
    try:
        person = await client.finish(returned, code)
        role = "admin" if person.admin else site.role
        account = await state.accounts.ensure_external(tenant, person.name, role, subject=person.subject)
    except SignInRefused as refused:
        return _signin(str(refused), status=400, tenant=tenant)
    except Conflict as taken:
        return _signin(taken.message, status=409, tenant=tenant)
    # The browser arrives here from the provider's site: a redirect from this answer would still be part of that
    # cross-site navigation, and a SameSite=Strict cookie is not sent on it. A page of ours that moves on by itself
    # makes the next request a same-site one, which carries the new session.
    return _signed_in(request, await state.sessions.open_for_account(account), via_page=True)


@router.get("/token")
async def csrf_token(session: PageSessionDep) -> JSONResponse:
    """The session's CSRF token, for a page opened before its moderator signed in again in another tab. Another
    site's page cannot read this answer (same-origin policy), so it learns nothing."""
    if session is None:
        return JSONResponse({"error": {"code": "unauthorized", "message": "sign in again"}}, status_code=401)
    return JSONResponse({"csrf": session.csrf}, headers={"Cache-Control": "no-store"})


@router.post("/signout", response_class=HTMLResponse)
async def sign_out(
    state: StateDep, session: PageSessionDep, csrf: Annotated[str, Form(max_length=128)] = ""
) -> Response:
    """End the session everywhere (it is deleted in Redis) and drop the cookie. Without the page's CSRF token the
    request is refused and the session stays as it was: dropping only the cookie would leave a session that
    another copy of the cookie can still use, while the moderator believes they signed out."""
    if session is not None and not csrf_ok(session, csrf):
        return _signin("Sign-out was not confirmed by this page: reload it and sign out again.", status=403)
    if session is not None and state.sessions is not None:
        await state.sessions.close(session)
    response = RedirectResponse("/moderate", status_code=303, headers=ui.PAGE_HEADERS)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _signin(message: str | None, *, status: int = 200, tenant: str = "", account: str = "") -> HTMLResponse:
    html = ui.render("signin.html", message=message, tenant=tenant, account=account)
    return HTMLResponse(html, status_code=status, headers=ui.PAGE_HEADERS)


def _moving_on(target: str, title: str, link: str) -> HTMLResponse:
    html = ui.render("moving_on.html", target=target, title=title, link=link)
    return HTMLResponse(html, headers=ui.PAGE_HEADERS)
