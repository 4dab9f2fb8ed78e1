"""Every Redis key Moderato writes, built here and nowhere else. The tenant always comes first, so one site's data
never shares a key with another's and a tenant's whole keyspace matches ``mod:{tenant}:*``."""

from __future__ import annotations

PREFIX = "mod"


def _key(tenant: str, *parts: str) -> str:
    if not tenant or ":" in tenant:
        raise ValueError(f"invalid tenant name {tenant!r}")
    return ":".join((PREFIX, tenant, *parts))


def result(tenant: str, digest: str) -> str:
    """Cached scoring result (JSON string) for one (model version, normalised text, article id) digest."""
    return _key(tenant, "result", digest)


def article(tenant: str, article_id: str) -> str:
    """Article context (hash: title, body) as registered by the platform."""
    return _key(tenant, "article", article_id)


def article_states(tenant: str, model_version: str, article_id: str) -> str:
    """The article's encoded claim (fp16 token states) for one model version."""
    return _key(tenant, "artvec", model_version, article_id)


def flood(tenant: str, digest: str) -> str:
    """Sorted set of recent posting times of one normalised text (the flood signal)."""
    return _key(tenant, "flood", digest)


def tenant_pattern(tenant: str) -> str:
    """SCAN pattern for everything a tenant owns."""
    return _key(tenant, "*")
