"""Which model each tenant is answered by, as it stands now: the shipped model until an admin promotes a version
learned from the tenant's own labels (service/model/versions.py), then that version.

The pointer lives in Redis (``keys.model_serving``). Every API replica and worker re-reads it at most every
REFRESH_S seconds and loads a new version's heads off the event loop before switching to it, so a promotion or a
rollback is served everywhere within seconds, without a restart. A request takes its tenant's model once, at its
start: it is answered by one version from cache key to decision, never a mix. A version that cannot be loaded (its
folder missing on this machine, a file damaged) leaves the tenant on what it had, and says so in the log and in
``moderato_model_load_failures_total``: a bad pointer never fails a comment.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.metrics import Metrics
from service.model.calibration import Calibration
from service.model.checkpoint import CheckpointError
from service.model.versions import version_folder
from service.redis_client import FAILURES, text_map

log = logging.getLogger(__name__)

REFRESH_S = 2.0  # how stale a replica's pointer may be (the promise is 10 s, loading included)
RETRY_FAILED_S = 30.0  # a version that would not load is tried again after this (not on every request)


@dataclass(frozen=True)
class Served:
    """One model as answers are made with it.

    :param model: the runner's id for a learned version (``CommentJob.model``); None: the shipped model.
    :param version: the answer's ``model`` field: the model and its calibration.
    :param cache_version: what a cached answer must have been made under (the cache key's first part).
    """

    model: str | None
    version: str
    cache_version: str
    calibration: Calibration | None


@dataclass(frozen=True)
class Shadow:
    """A candidate scoring a share of a tenant's fresh comments beside the served model."""

    served: Served
    sample: float


@dataclass(frozen=True)
class ShadowRow:
    """One comment scored by both: the served model's scores and decision, and the candidate's."""

    comment_id: str
    served_scores: dict[str, float]
    candidate_scores: dict[str, float]
    served_decision: str
    candidate_decision: str


def with_calibration(version: str, calibration: Calibration | None) -> str:
    return version + (f"+{calibration.version}" if calibration else "")


class ServingModels:
    """:param runner: the model runner (``load_version`` makes a learned version servable on its encoder)."""

    def __init__(
        self, redis: aioredis.Redis, runner: Any, calibration: Calibration | None, root: Path, metrics: Metrics
    ) -> None:
        self.redis = redis
        self.runner = runner
        self.root = root
        self.metrics = metrics
        self.base = Served(
            None,
            with_calibration(runner.version, calibration),
            with_calibration(runner.cache_version, calibration),
            calibration,
        )
        self._served: dict[str, Served] = {}
        self._shadows: dict[str, Shadow] = {}
        self._loaded: dict[str, Served] = {}  # version id -> as served
        self._checked: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed: dict[str, float] = {}  # version id -> when it last failed to load

    def current(self, tenant: str) -> Served:
        return self._served.get(tenant, self.base)

    def shadow(self, tenant: str) -> Shadow | None:
        return self._shadows.get(tenant)

    async def refresh(self, tenant: str) -> Served:
        """The tenant's model, its pointer re-read when this copy is older than REFRESH_S (one round trip when
        unchanged). Redis out of reach: the last model read stays."""
        now = time.monotonic()
        if now - self._checked.get(tenant, float("-inf")) < REFRESH_S:
            return self.current(tenant)
        self._checked[tenant] = now
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hget(keys.model_serving(tenant), "version")
                pipe.hgetall(keys.model_shadow(tenant))
                serving, shadow = await pipe.execute()
        except FAILURES as exc:
            log.warning("model pointer of %s not re-read (%s); the last one stays", tenant, type(exc).__name__)
            return self.current(tenant)
        wanted = serving.decode() if isinstance(serving, bytes) else serving
        served = self.base if not wanted else await self._load(tenant, wanted)
        if served is not None:
            self._served[tenant] = served
        await self._refresh_shadow(tenant, text_map(shadow))
        return self.current(tenant)

    def forget(self, tenant: str) -> None:
        """Re-read the tenant's pointer on its next request (this replica just moved it)."""
        self._checked.pop(tenant, None)

    async def _refresh_shadow(self, tenant: str, fields: dict[str, str]) -> None:
        version = fields.get("version")
        served = await self._load(tenant, version) if version else None
        if served is None:
            self._shadows.pop(tenant, None)
        else:
            self._shadows[tenant] = Shadow(served, float(fields.get("sample", "0.1")))

    async def _load(self, tenant: str, version_id: str) -> Served | None:
        if version_id in self._loaded:
            return self._loaded[version_id]
        if time.monotonic() - self._failed.get(version_id, float("-inf")) < RETRY_FAILED_S:
            return None
        async with self._locks.setdefault(version_id, asyncio.Lock()):  # one load per version, however many ask
            if version_id in self._loaded:
                return self._loaded[version_id]
            try:
                folder = version_folder(self.root, version_id)
                version, cache_version = await asyncio.to_thread(self.runner.load_version, version_id, folder)
                calibration = Calibration.load(folder)
            except (CheckpointError, OSError, ValueError, KeyError) as exc:
                self.metrics.model_load_failures.inc()
                self._failed[version_id] = time.monotonic()
                log.error(
                    "model version %s of %s cannot be loaded (%s); %s keeps its model", version_id, tenant, exc, tenant
                )
                return None
            served = Served(
                version_id,
                with_calibration(version, calibration),
                with_calibration(cache_version, calibration),
                calibration,
            )
            self._loaded[version_id] = served
            log.info("model version %s loaded (%s)", version_id, served.version)
            return served

    async def record_shadow(self, tenant: str, version_id: str, rows: list[ShadowRow]) -> None:
        """Count agreement and keep the newest comments whose decision the candidate would have changed. Redis out
        of reach: these rows go uncounted (the shadow is a sample; the answers were made already)."""
        changed = [r for r in rows if r.served_decision != r.candidate_decision]
        stats = keys.shadow_stats(tenant, version_id)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(stats, "scored", len(rows))
                pipe.hincrby(stats, "agreed", len(rows) - len(changed))
                diff = sum(abs(r.served_scores["toxicity"] - r.candidate_scores["toxicity"]) for r in rows)
                pipe.hincrbyfloat(stats, "toxicity_abs_diff", diff)
                for row in changed:
                    pipe.hincrby(stats, f"{row.served_decision}>{row.candidate_decision}", 1)
                    pipe.lpush(keys.shadow_changes(tenant, version_id), json.dumps(_change(row)))
                pipe.ltrim(keys.shadow_changes(tenant, version_id), 0, keys.SHADOW_CHANGES_MAX - 1)
                await pipe.execute()
        except FAILURES as exc:
            log.warning("shadow counts of %s not recorded (%s)", tenant, type(exc).__name__)


def _change(row: ShadowRow) -> dict[str, Any]:
    return {
        "comment_id": row.comment_id,
        "at": round(time.time(), 3),
        "served": {"decision": row.served_decision, "scores": row.served_scores},
        "candidate": {"decision": row.candidate_decision, "scores": row.candidate_scores},
    }
