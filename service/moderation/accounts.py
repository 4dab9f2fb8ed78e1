"""Moderator accounts: each person signs in to the page as themselves, and the audit names them. API keys stay for
machines (platforms, scripts); an account is a person with a name, a role (moderator or admin) and a tenant.

- Passwords are kept only as argon2id hashes (argon2-cffi, its current default parameters) and rehashed when those
  parameters change. Checking one costs ~50 ms of CPU on purpose, so it runs on a thread.
- Lockout: ``lockout_failures`` wrong passwords in a row lock the account for ``lockout_s``, counted on the account
  in Redis, so it holds across replicas and however many addresses the guesses come from. The sign-in form's limit
  per client address still applies beside it.
- Every change (created, password set, unlocked, removed, locked) is an entry of the tenant's audit stream
  (``account_*``, with ``account`` and the acting admin). Setting a password or removing an account ends its page
  sessions everywhere: a session remembers the account's ``epoch``, which both bump.
- An account cannot take the name of one of the tenant's API keys: claims, leases and the audit know a person by
  name, and two holders of one name could not be told apart.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from service import redis_keys as keys
from service.errors import Conflict, InvalidInput, NotFound
from service.redis_client import text, text_map

ACCOUNT_ROLES = ("moderator", "admin")
NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 12  # characters; a generated password is 24 URL-safe characters (~143 bits)
MAX_PASSWORD = 512  # argon2 reads any length: a cap keeps one sign-in from costing more than another


class LockedOut(Exception):
    """Too many wrong passwords in a row: the account refuses every password until ``until``."""

    def __init__(self, until: float) -> None:
        super().__init__(f"locked until {until:.0f}")
        self.until = until


@dataclass(frozen=True)
class Account:
    tenant: str
    name: str
    role: str
    created_at: float
    created_by: str
    epoch: str  # changes whenever the account's sessions must end (a new password, removal)
    failures: int = 0
    locked_until: float | None = None

    def public(self) -> dict[str, Any]:
        """What an admin may see of an account (never its hash)."""
        locked = self.locked_until if self.locked_until and self.locked_until > time.time() else None
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "failures": self.failures,
            "locked_until": locked,
        }


class Accounts:
    """One Redis's accounts, of every tenant.

    :param taken_names: tenant -> names its API keys already use (an account may not take one).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        lockout_failures: int = 5,
        lockout_s: int = 900,
        taken_names: Callable[[str], set[str]] | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self.redis = redis
        self.lockout_failures = lockout_failures
        self.lockout_s = lockout_s
        self.taken_names: Callable[[str], set[str]] = taken_names or (lambda tenant: set())
        self.hasher = hasher or PasswordHasher()
        self._decoy = self.hasher.hash(secrets.token_urlsafe(16))  # checked for unknown names: same cost, same time

    async def create(self, tenant: str, name: str, role: str, *, by: str, password: str | None = None) -> str:
        """Create an account; returns its password (the one given, or a generated one, shown once)."""
        check_name(name)
        if role not in ACCOUNT_ROLES:
            raise InvalidInput(f"an account's role is one of {ACCOUNT_ROLES}", code="invalid_role")
        if name in self.taken_names(tenant):
            raise Conflict(f"{name!r} is the name of one of this tenant's API keys", code="name_taken")
        password = password if password is not None else secrets.token_urlsafe(18)
        check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        now = time.time()
        fields: dict[Any, Any] = {
            "name": name,
            "role": role,
            "password": hashed,
            "created_at": f"{now:.3f}",
            "created_by": by,
            "epoch": secrets.token_hex(8),
            "failures": "0",
        }
        key = keys.account(tenant, name)
        if not await self.redis.hsetnx(key, "name", name):  # the name is taken: never overwrite someone's account
            raise Conflict(f"an account named {name!r} exists", code="account_exists")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.sadd(keys.accounts(tenant), name)
            pipe.xadd(keys.audit(tenant), _audit("account_created", name, by, now, role=role))  # type: ignore[arg-type]
            await pipe.execute()
        return password

    async def get(self, tenant: str, name: str) -> Account | None:
        stored = text_map(await self.redis.hgetall(keys.account(tenant, name)))
        return _account(tenant, stored) if stored.get("password") or stored.get("subject") else None

    async def ensure_external(self, tenant: str, name: str, role: str, *, subject: str) -> Account:
        """The account of a person the site's identity provider signed in (no password: it signs in only that way),
        made on their first sign-in (audited, by "oidc"), its role kept as the provider's settings say. A name
        already taken by someone else is refused."""
        key = keys.account(tenant, name)
        if await self.redis.hsetnx(key, "name", name):
            now = time.time()
            fields: dict[Any, Any] = {
                "role": role,
                "subject": subject,
                "created_at": f"{now:.3f}",
                "created_by": "oidc",
                "epoch": secrets.token_hex(8),
                "failures": "0",
            }
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=fields)
                pipe.sadd(keys.accounts(tenant), name)
                pipe.xadd(keys.audit(tenant), _audit("account_created", name, "oidc", now, role=role))  # type: ignore[arg-type]
                await pipe.execute()
        stored = text_map(await self.redis.hgetall(key))
        if stored.get("subject") != subject:
            raise Conflict(f"the account name {name!r} belongs to someone else here", code="name_taken")
        if stored.get("role") != role:
            await self.redis.hset(key, "role", role)
            stored["role"] = role
        return _account(tenant, stored)

    async def list(self, tenant: str) -> list[Account]:
        names = sorted(text(n) for n in await self.redis.smembers(keys.accounts(tenant)))
        found = [await self.get(tenant, name) for name in names]
        return [a for a in found if a is not None]

    async def set_password(self, tenant: str, name: str, *, by: str, password: str | None = None) -> str:
        """A new password (given or generated; returned): unlocks the account and ends its sessions."""
        await self._existing(tenant, name)
        password = password if password is not None else secrets.token_urlsafe(18)
        check_password(password)
        hashed = await asyncio.to_thread(self.hasher.hash, password)
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                keys.account(tenant, name),
                mapping={"password": hashed, "epoch": secrets.token_hex(8), "failures": "0", "locked_until": ""},
            )
            pipe.xadd(keys.audit(tenant), _audit("account_password_set", name, by, now))  # type: ignore[arg-type]
            await pipe.execute()
        return password

    async def unlock(self, tenant: str, name: str, *, by: str) -> None:
        await self._existing(tenant, name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.account(tenant, name), mapping={"failures": "0", "locked_until": ""})
            pipe.xadd(keys.audit(tenant), _audit("account_unlocked", name, by, time.time()))  # type: ignore[arg-type]
            await pipe.execute()

    async def remove(self, tenant: str, name: str, *, by: str) -> None:
        """Delete the account; its sessions end (the session finds no account)."""
        await self._existing(tenant, name)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(keys.account(tenant, name))
            pipe.srem(keys.accounts(tenant), name)
            pipe.xadd(keys.audit(tenant), _audit("account_removed", name, by, time.time()))  # type: ignore[arg-type]
            await pipe.execute()

    async def verify(self, tenant: str, name: str, password: str) -> Account | None:
        """The account when the password is its own; None otherwise. Raises LockedOut while locked (without
        checking the password, so a locked account's password cannot be guessed meanwhile). An unknown name costs
        the same hash check as a known one, so the answer's timing does not tell which names exist."""
        readable = NAME.match(name) and len(password) <= MAX_PASSWORD
        stored = text_map(await self.redis.hgetall(keys.account(tenant, name))) if readable else {}
        account = _account(tenant, stored) if stored.get("password") else None
        if account is not None and account.locked_until and account.locked_until > time.time():
            raise LockedOut(account.locked_until)
        hashed = stored.get("password") or self._decoy
        matches = await asyncio.to_thread(_matches, self.hasher, hashed, password)
        if account is None:
            return None
        if matches:
            await self._succeeded(tenant, name, password, hashed)
            return account
        await self._failed(tenant, name)
        return None

    async def _succeeded(self, tenant: str, name: str, password: str, hashed: str) -> None:
        fields: dict[Any, Any] = {"failures": "0", "locked_until": ""}
        if self.hasher.check_needs_rehash(hashed):  # parameters moved on since it was hashed
            fields["password"] = await asyncio.to_thread(self.hasher.hash, password)
        await self.redis.hset(keys.account(tenant, name), mapping=fields)

    async def _failed(self, tenant: str, name: str) -> None:
        key = keys.account(tenant, name)
        failures = int(await self.redis.hincrby(key, "failures", 1))
        if failures >= self.lockout_failures:
            until = time.time() + self.lockout_s
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"failures": "0", "locked_until": f"{until:.3f}"})
                entry = _audit("account_locked", name, "sign-in", time.time(), until=f"{until:.3f}")
                pipe.xadd(keys.audit(tenant), entry)  # type: ignore[arg-type]
                await pipe.execute()

    async def _existing(self, tenant: str, name: str) -> Account:
        account = await self.get(tenant, name) if NAME.match(name) else None
        if account is None:
            raise NotFound(f"no account {name!r}")
        return account


def check_name(name: str) -> None:
    if not NAME.match(name):
        raise InvalidInput(
            "an account name is 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
            code="invalid_name",
        )


def check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidInput(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters", code="invalid_password")


def _matches(hasher: PasswordHasher, hashed: str, password: str) -> bool:
    try:
        return hasher.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _account(tenant: str, stored: dict[str, str]) -> Account:
    locked = stored.get("locked_until") or ""
    return Account(
        tenant=tenant,
        name=stored["name"],
        role=stored.get("role", "moderator"),
        created_at=float(stored.get("created_at") or 0),
        created_by=stored.get("created_by", ""),
        epoch=stored.get("epoch", ""),
        failures=int(stored.get("failures") or 0),
        locked_until=float(locked) if locked else None,
    )


def _audit(action: str, name: str, actor: str, at: float, **extra: str) -> dict[str, str]:
    """An audit entry about an account (no comment): who did what to which account, and when."""
    return {
        "comment_id": "",
        "account": name,
        "actor": actor,
        "action": action,
        "reason": "",
        "scores": "{}",
        "at": f"{at:.3f}",
        **extra,
    }
