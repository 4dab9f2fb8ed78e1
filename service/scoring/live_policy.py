"""Each tenant's policy as it stands now: the settings' (``MODERATO_POLICIES`` / the default) until an admin saves one
through ``/v1/policy``, then the saved one, read from Redis. Every API replica and worker checks the saved version
at most every REFRESH_S, so a change is in force everywhere within that time, without a restart.

Scores are cached without their decision (the decision is made on each answer), so a new policy applies to cached
texts at once too.
"""

from __future__ import annotations

import logging
import time

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.config import PolicySettings, Settings
from service.model.calibration import Calibration
from service.redis_client import FAILURES, text
from service.scoring.policy import Policy

log = logging.getLogger(__name__)

REFRESH_S = 2.0  # how stale a replica's copy may be (the promise is 5 s)


class LivePolicies:
    def __init__(self, redis: aioredis.Redis, settings: Settings, calibration: Calibration | None) -> None:
        self.redis = redis
        self.settings = settings
        self.calibration = calibration
        self._policies: dict[str, tuple[str, Policy]] = {}  # tenant -> (saved version, '' for the settings', policy)
        self._checked: dict[str, float] = {}

    def current(self, tenant: str) -> Policy:
        """The policy as last read (the settings' until a saved one is read)."""
        if tenant not in self._policies:
            self._policies[tenant] = ("", self.build(self.settings.policy_for(tenant)))
        return self._policies[tenant][1]

    def build(self, settings: PolicySettings) -> Policy:
        return Policy.from_settings(settings, self.calibration)

    async def refresh(self, tenant: str) -> Policy:
        """The policy in force, re-read from Redis when this copy is older than REFRESH_S (one HGET when unchanged).
        Redis out of reach: the last policy read stays in force."""
        now = time.monotonic()
        if now - self._checked.get(tenant, float("-inf")) < REFRESH_S:
            return self.current(tenant)
        self._checked[tenant] = now
        try:
            version = await self.redis.hget(keys.policy(tenant), "version")
            known = self._policies.get(tenant, ("", None))[0]
            if version is None:
                if known:  # a saved policy was withdrawn: back to the settings'
                    self._policies.pop(tenant, None)
            elif text(version) != known:
                stored = await self.redis.hget(keys.policy(tenant), "policy")
                if stored is not None:
                    saved = PolicySettings.model_validate_json(stored)
                    self._policies[tenant] = (text(version), self.build(saved))
        except FAILURES as exc:
            log.warning("policy of %s not re-read (%s); the last one read stays in force", tenant, type(exc).__name__)
        except ValueError:
            log.exception("the saved policy of %s does not read; the last one read stays in force", tenant)
        return self.current(tenant)

    def forget(self, tenant: str) -> None:
        """Re-read the tenant's policy on its next use (this replica just saved one)."""
        self._checked.pop(tenant, None)

    def version(self, tenant: str) -> str:
        """The saved version in force ('' for the settings')."""
        return self._policies.get(tenant, ("", None))[0]
