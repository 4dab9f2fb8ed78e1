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
        self._saved: dict[str, tuple[str, PolicySettings]] = {}  # tenant -> (saved version, its settings)
        self._built: dict[tuple[str, str, str], Policy] = {}  # (tenant, saved version, calibration) -> policy
        self._checked: dict[str, float] = {}

    def current(self, tenant: str, calibration: Calibration | None = None) -> Policy:
        """The policy as last read (the settings' until a saved one is read), on the scale of ``calibration``'s
        scores (a tenant served a learned version has that version's calibration; default: the shipped one's)."""
        calibration = calibration or self.calibration
        version, settings = self._saved.get(tenant) or ("", self.settings.policy_for(tenant))
        key = (tenant, version, calibration.version if calibration else "")
        if key not in self._built:
            self._built[key] = Policy.from_settings(settings, calibration)
        return self._built[key]

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
            known = self.version(tenant)
            if version is None:
                if known:  # a saved policy was withdrawn: back to the settings'
                    self._saved.pop(tenant, None)
            elif text(version) != known:
                stored = await self.redis.hget(keys.policy(tenant), "policy")
                if stored is not None:
                    saved = PolicySettings.model_validate_json(stored)
                    Policy.from_settings(saved, self.calibration)  # refuses one that does not build
                    self._saved[tenant] = (text(version), saved)
                    self._built = {k: p for k, p in self._built.items() if k[0] != tenant}
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
        return self._saved.get(tenant, ("", None))[0]
