"""Every key of one tenant hashes to one Redis Cluster slot (the tenant is the hash tag), so each Lua script and
transaction, which only ever names one tenant's keys, works on a cluster by construction."""

from __future__ import annotations

import inspect

from redis.crc import key_slot

from service import redis_keys as keys


def _tenant_key_builders() -> list[str]:
    return [
        name
        for name, fn in inspect.getmembers(keys, inspect.isfunction)
        if fn.__module__ == keys.__name__
        and not name.startswith("_")
        and next(iter(inspect.signature(fn).parameters), None) == "tenant"
    ]


def test_every_key_of_a_tenant_lives_on_the_tenants_slot() -> None:
    builders = _tenant_key_builders()
    assert len(builders) >= 20, builders  # every builder found, not an empty loop
    for tenant in ("tenant-a", "news-site", "x"):
        slots = {}
        for name in builders:
            fn = getattr(keys, name)
            args = ["part"] * (len(inspect.signature(fn).parameters) - 1)
            key = fn(tenant, *args)
            slots[name] = key_slot(key.encode())
        assert set(slots.values()) == {key_slot(tenant.encode())}, slots


def test_the_scripts_key_prefixes_share_the_slot_of_the_keys_built_from_them() -> None:
    # Scripts build some keys from a prefix passed in ARGV (an author's record, a webhook job): prefix + id must
    # land on the tenant's slot too.
    for prefix in (keys.author("t", ""), keys.webhook_job("t", ""), keys.queue("t", ""), keys.claim("t", "")):
        assert key_slot((prefix + "some-id").encode()) == key_slot(b"t")
