"""Moderator page sessions: a signed, expiring cookie naming a session kept in Redis, and its CSRF token.

The cookie carries no key and no role: only the tenant, a random session id, the expiry and an HMAC over them.
Redis keeps the session (the key's digest and the CSRF token) for ``SESSION_TTL_S``, so signing out, or removing
the key from the configuration, ends the session on every replica at once. State-changing requests made with the
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

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.api.auth import KeyRing, Principal
from service.config import Settings
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

    def __init__(self, redis: aioredis.Redis, keyring: KeyRing, settings: Settings) -> None:
        self.redis = redis
        self.keyring = keyring
        self._secret = settings.session_secret.get_secret_value().encode() if settings.session_secret else None

    async def secret(self) -> bytes:
        if self._secret is None:
            await self.redis.set(keys.SESSION_SECRET, secrets.token_hex(32), nx=True)
            self._secret = text(await self.redis.get(keys.SESSION_SECRET)).encode()
        return self._secret

    async def open(self, principal: Principal, digest: bytes) -> Session:
        """A new session for the owner of the key with this digest."""
        session_id, csrf = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        expires = int(time.time()) + keys.SESSION_TTL_S
        key = keys.session(principal.tenant, session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"digest": digest.hex(), "csrf": csrf, "created_at": f"{time.time():.3f}"})
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
        principal = self.keyring.by_digest(bytes.fromhex(stored["digest"])) if stored.get("digest") else None
        if principal is None or principal.tenant != tenant or principal.role not in PAGE_ROLES:
            return None
        return Session(principal, parts[1], stored["csrf"], cookie)

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
