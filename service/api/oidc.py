"""Signing in to the moderators' page through the site's own identity provider, over OpenID Connect.

The authorization code flow with PKCE, as a confidential client (``MODERATO_OIDC``, per tenant: the issuer, the
client id and secret the provider gave Moderato, and who is an admin). Moderato reads the provider's discovery
document, sends the person there with a one-time ``state`` (kept in Redis for 10 minutes, naming the tenant), a
``nonce`` and a PKCE challenge, and on the way back exchanges the code for an ID token, which it verifies with the
provider's published keys (joserfc): signature, issuer, audience, expiry and nonce. The person then gets (or keeps)
an account of their own, marked as signing in through the provider (it has no password), and a page session like
any account's: removing the account ends it, and the audit names them.

Every address the flow reaches is checked as a webhook's is (the tenant's ``allow`` list admits a provider on a
private network).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import redis.asyncio as aioredis
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from service import redis_keys as keys
from service.config import OidcSettings
from service.errors import InvalidInput, Unavailable
from service.moderation.targets import AllowList, delivery_error, request_checked

STATE_TTL_S = 600  # a sign-in must come back within 10 minutes
TIMEOUT_S = 10.0
SCOPES = "openid profile email"
NAME_CHARS = re.compile(r"[^a-z0-9._-]+")


class SignInRefused(Exception):
    """The provider's answer does not sign anyone in (a user-facing reason, no secrets)."""


@dataclass(frozen=True)
class Person:
    subject: str
    name: str  # an account name made from the provider's name claim
    admin: bool


class OidcClient:
    def __init__(self, tenant: str, site: OidcSettings, allow: AllowList, redis: aioredis.Redis) -> None:
        self.tenant = tenant
        self.site = site
        self.allow = allow
        self.redis = redis

    async def start(self, redirect_uri: str) -> str:
        """Where to send the person: the provider's authorization endpoint, with state, nonce and PKCE."""
        discovery = await self._discovery()
        state = f"{_b64(self.tenant)}.{secrets.token_urlsafe(24)}"
        nonce, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        stored = {"nonce": nonce, "verifier": verifier, "redirect_uri": redirect_uri}
        await self.redis.set(keys.oidc_state(self.tenant, state), json.dumps(stored), ex=STATE_TTL_S)
        query = {
            "response_type": "code",
            "client_id": self.site.client_id,
            "redirect_uri": redirect_uri,
            "scope": SCOPES,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return f"{discovery['authorization_endpoint']}?{urlencode(query)}"

    async def finish(self, state: str, code: str) -> Person:
        """The person the provider signed in: the code exchanged, the ID token verified."""
        raw = await self.redis.getdel(keys.oidc_state(self.tenant, state))  # one use only
        if raw is None:
            raise SignInRefused("This sign-in link has expired or was used already. Sign in again.")
        stored = json.loads(raw)
        discovery = await self._discovery()
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": stored["redirect_uri"],
            "client_id": self.site.client_id,
            "client_secret": self.site.client_secret.get_secret_value(),
            "code_verifier": stored["verifier"],
        }
        answer = await self._call("POST", discovery["token_endpoint"], content=urlencode(form).encode(),
                                  headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        id_token = answer.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("The identity provider sent no ID token.")
        claims = await self._verified(discovery, id_token, stored["nonce"])
        return self._person(claims)

    async def _verified(self, discovery: dict[str, Any], id_token: str, nonce: str) -> dict[str, Any]:
        published: Any = await self._call("GET", discovery["jwks_uri"])
        try:
            keyset = KeySet.import_key_set(published)
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise SignInRefused("The identity provider's keys could not be read.") from exc
        try:
            token = jwt.decode(id_token, keyset, algorithms=["RS256", "ES256", "PS256"])
            jwt.JWTClaimsRegistry(
                iss={"essential": True, "value": discovery["issuer"]},
                aud={"essential": True, "value": self.site.client_id},
                nonce={"essential": True, "value": nonce},
                sub={"essential": True},
                exp={"essential": True},
            ).validate(token.claims)
        except (JoseError, ValueError) as exc:
            raise SignInRefused("The identity provider's answer could not be verified.") from exc
        return dict(token.claims)

    def _person(self, claims: dict[str, Any]) -> Person:
        subject = str(claims["sub"])
        shown = str(claims.get(self.site.name_claim) or claims.get("email") or subject)
        name = NAME_CHARS.sub("-", shown.split("@")[0].lower()).strip("-._")[:64] or "person"
        if not name[0].isalnum():
            name = "p" + name[:63]
        email = str(claims.get("email") or "")
        admin = subject in self.site.admins or (bool(email) and email in self.site.admins)
        return Person(subject, name, admin)

    async def _discovery(self) -> dict[str, Any]:
        url = f"{self.site.issuer.rstrip('/')}/.well-known/openid-configuration"
        found = await self._call("GET", url)
        needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not all(isinstance(found.get(k), str) for k in needed):
            raise Unavailable("the identity provider's discovery document is incomplete", code="oidc_unavailable")
        if found["issuer"].rstrip("/") != self.site.issuer.rstrip("/"):
            raise Unavailable("the identity provider names another issuer", code="oidc_unavailable")
        return found

    async def _call(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(follow_redirects=False) as client:
                response = await request_checked(client, method, url, self.allow, timeout_s=TIMEOUT_S, **kwargs)
        except Exception as exc:
            raise Unavailable(f"the identity provider cannot be reached: {delivery_error(exc)}",
                              code="oidc_unavailable") from exc  # fmt: skip
        if response.status_code != 200:
            raise SignInRefused(f"The identity provider refused (HTTP {response.status_code}).")
        try:
            body = response.json()
        except ValueError as exc:
            raise SignInRefused("The identity provider's answer is not JSON.") from exc
        if not isinstance(body, dict):
            raise SignInRefused("The identity provider's answer is not a JSON object.")
        return body


def tenant_of_state(state: str) -> str:
    """The tenant a state was made for (the part before the dot); anything else is a 400."""
    head, _, rest = state.partition(".")
    try:
        tenant = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("bad sign-in state", code="invalid_state") from exc
    if not rest or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", tenant):
        raise InvalidInput("bad sign-in state", code="invalid_state")
    return tenant


def _b64(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")
