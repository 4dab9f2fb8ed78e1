"""Moderator page sessions: a signed, expiring cookie naming a session kept in Redis, and its CSRF token.

The cookie carries no key and no role: only the tenant, a random session id, the expiry and an HMAC over them.
Redis keeps the session (the key's digest, or the account and its epoch, and the CSRF token) for ``SESSION_TTL_S``,
so signing out, removing the key from the configuration, or a new password or removal of the account, ends the
session on every replica at once. State-changing requests made with the
cookie must echo the CSRF token in a header, which another site's page cannot read or send.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.api.auth import KeyRing, Principal
from service.config import Settings
from service.moderation.accounts import Account, Accounts
from service.redis_client import text, text_map

COOKIE = "moderato_session"
CSRF_HEADER = "x-csrf-token"
PAGE_ROLES = ("moderator", "admin")


@dataclass(frozen=True)
class Session:
    principal: Principal
    session_id: str
    csrf: str
    cookie: str


class Sessions:
    """Open, read and close page sessions.

    :param settings: ``session_secret`` (else one is made once and shared through Redis).
    """

    def __init__(self, redis: aioredis.Redis, keyring: KeyRing, settings: Settings, accounts: Accounts) -> None:
        self.redis = redis
        self.keyring = keyring
        self.accounts = accounts
        self._secret = settings.session_secret.get_secret_value().encode() if settings.session_secret else None

    async def secret(self) -> bytes:
        if self._secret is None:
            await self.redis.set(keys.SESSION_SECRET, secrets.token_hex(32), nx=True)
            self._secret = text(await self.redis.get(keys.SESSION_SECRET)).encode()
        return self._secret

    async def open(self, principal: Principal, digest: bytes) -> Session:
        """A new session for the owner of the key with this digest."""
        return await self._open(principal, {"digest": digest.hex()})

    async def open_for_account(self, account: Account) -> Session:
        """A new session for a person's account; it ends when the account's epoch changes (a new password,
        removal)."""
        principal = Principal(account.tenant, account.role, account.name)
        return await self._open(principal, {"account": account.name, "epoch": account.epoch})

    async def _open(self, principal: Principal, credential: dict[str, str]) -> Session:
        session_id, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = int(time.time()) + keys.SESSION_TTL_S
        key = keys.session(principal.tenant, session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            fields: dict[Any, Any] = {**credential, "csrf": csrf, "created_at": f"{time.time():.3f}"}
            pipe.hset(key, mapping=fields)
            pipe.expireat(key, expires)
            await pipe.execute()
        payload = f"{_b64(principal.tenant)}.{session_id}.{expires}"
        return Session(principal, session_id, csrf, f"{payload}.{await self._sign(payload)}")

    async def read(self, cookie: str) -> Session | None:
        """The live session a cookie names, or None (forged, expired, signed out, or its key removed)."""
        parts = cookie.split(".")
        if len(parts) != 4 or not parts[2].isdigit():
            return None
        payload = ".".join(parts[:3])
        if not hmac.compare_digest(parts[3], await self._sign(payload)) or int(parts[2]) < time.time():
            return None
        tenant = _unb64(parts[0])
        if tenant is None:
            return None
        stored = text_map(await self.redis.hgetall(keys.session(tenant, parts[1])))
        principal = await self._holder(tenant, stored)
        if principal is None or principal.tenant != tenant or principal.role not in PAGE_ROLES:
            return None
        return Session(principal, parts[1], stored["csrf"], cookie)

    async def _holder(self, tenant: str, stored: dict[str, str]) -> Principal | None:
        """Who a stored session belongs to now: the key's owner while the key is configured, the account while it
        exists with the same epoch."""
        if stored.get("digest"):
            return self.keyring.by_digest(bytes.fromhex(stored["digest"]))
        if stored.get("account"):
            account = await self.accounts.get(tenant, stored["account"])
            if account is not None and hmac.compare_digest(account.epoch, stored.get("epoch", "")):
                return Principal(tenant, account.role, account.name)
        return None

    async def close(self, session: Session) -> None:
        """End a session read from its cookie: deleted in Redis, so the cookie is worthless everywhere."""
        await self.redis.delete(keys.session(session.principal.tenant, session.session_id))

    async def _sign(self, payload: str) -> str:
        mac = hmac.new(await self.secret(), payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def _b64(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def _unb64(value: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None


def csrf_ok(session: Session, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(session.csrf.encode(), presented.encode())
