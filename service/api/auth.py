"""API keys: each belongs to one tenant and has one role. Keys are kept only as SHA-256 digests and compared in
constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

from service.config import Settings

log = logging.getLogger(__name__)

ROLES = ("platform", "moderator", "admin")
DEV_TENANT = "default"
DEV_KEY_FILE = "dev-api-key"


@dataclass(frozen=True)
class Principal:
    tenant: str
    role: str
    # who acts, for claims and the audit log: the key's NAME, or "<role>-<n>" (its place among the tenant's unnamed
    # keys of that role) when it has none
    name: str = ""


class KeyRing:
    def __init__(self, entries: dict[bytes, Principal]) -> None:
        self._entries = list(entries.items())

    def __len__(self) -> int:
        return len(self._entries)

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """``KEY=TENANT:ROLE[:NAME]`` entries separated by commas or newlines; ``#`` starts a comment line."""
        entries: dict[bytes, Principal] = {}
        unnamed: dict[tuple[str, str], int] = {}
        for raw in spec.replace(",", "\n").splitlines():
            item = raw.strip()
            if not item or item.startswith("#"):
                continue
            key, sep, owner = item.partition("=")
            tenant, sep2, rest = owner.partition(":")
            role, _, name = rest.partition(":")
            tenant, role, name = tenant.strip(), role.strip(), name.strip()
            if not (sep and sep2 and key.strip() and tenant) or role not in ROLES:
                raise ValueError(
                    f"bad API key entry (want KEY=TENANT:ROLE[:NAME], ROLE one of {ROLES}): {key[:4]}…={owner}"
                )
            if any(c in tenant for c in "{}") or ":" in name:
                raise ValueError(f"tenant names cannot contain '{{' or '}}' ({tenant})")
            if not name:
                # An unnamed key is called by its role and its place among the tenant's unnamed keys of that role:
                # stable while the configuration is, and it says nothing about the key itself.
                unnamed[(tenant, role)] = unnamed.get((tenant, role), 0) + 1
                name = f"{role}-{unnamed[(tenant, role)]}"
            digest = key_digest(key.strip())
            principal = Principal(tenant, role, name)
            clash = [p for p in entries.values() if (p.tenant, p.name) == (tenant, name)]
            if digest in entries or clash:
                # two keys under one name would share claims and leases, and the audit log could not tell them apart
                raise ValueError(
                    f"two API keys of tenant {tenant!r} have the name {name!r} (or one key is listed twice)"
                )
            entries[digest] = principal
        return cls(entries)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        spec = settings.api_keys.get_secret_value() if settings.api_keys else ""
        if settings.api_keys_file:
            spec += "\n" + settings.api_keys_file.read_text()
        return cls.parse(spec)

    def names(self, tenant: str) -> set[str]:
        """The names the tenant's keys go by (an account may not take one of them)."""
        return {p.name for _, p in self._entries if p.tenant == tenant}

    def lookup(self, presented: str) -> Principal | None:
        """The key's owner; every stored digest is compared, so timing does not tell how close a guess was."""
        return self.by_digest(key_digest(presented))

    def by_digest(self, digest: bytes) -> Principal | None:
        """The owner of the key with this SHA-256 digest (a page session keeps the digest, never the key)."""
        found = None
        for stored, principal in self._entries:
            if hmac.compare_digest(stored, digest):
                found = principal
        return found


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def development_key(data_dir: Path) -> tuple[str, bool]:
    """The development key for tenant `default` (role admin), created on first use; returns (key, created)."""
    path = data_dir / DEV_KEY_FILE
    if path.exists():
        return path.read_text().strip(), False
    data_dir.mkdir(parents=True, exist_ok=True)
    key = "mk_dev_" + secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key, True
