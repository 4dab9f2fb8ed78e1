"""A tenant's learned model versions (``moderato learn``), for its admins: GET /v1/models (the served version, its
history, the shadow's agreement, every candidate's report, the labels collected), promote, roll back, shadow. Each
change is one audited Redis step and is served by every API replica and worker within seconds, without a restart
(service/scoring/serving.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from service.api.deps import AdminDep, RedisDep, ScorerDep, SettingsDep
from service.api.schemas import RequestModel
from service.moderation import model_registry as registry
from service.moderation.labels import label_counts

router = APIRouter(prefix="/v1/models", tags=["models"])


class ShadowIn(RequestModel):
    sample: float = Field(default=0.1, gt=0, le=1, description="share of freshly scored comments it also scores")


@router.get("")
async def models(principal: AdminDep, redis: RedisDep, settings: SettingsDep, scorer: ScorerDep) -> dict[str, Any]:
    """Everything the admin's view shows, and the model this replica answers the tenant with now."""
    overview = await registry.overview(redis, settings.models_root, principal.tenant)
    counts = await label_counts(redis, principal.tenant)
    served = await scorer.models.refresh(principal.tenant)
    total = sum(row["labels"] for row in counts.values())
    return {**overview, "answering_with": served.version, "labels": {"total": total, **counts}}


@router.post("/rollback")
async def rollback(principal: AdminDep, redis: RedisDep, scorer: ScorerDep) -> dict[str, Any]:
    """Serve what was served before the last promotion (the shipped model at the end of the history)."""
    before, after = await registry.rollback(redis, principal.tenant, by=principal.name)
    scorer.models.forget(principal.tenant)  # this replica at once; the others within seconds
    return {"from": before or None, "to": after or None}


@router.post("/{version}/promote")
async def promote(
    version: str, principal: AdminDep, redis: RedisDep, settings: SettingsDep, scorer: ScorerDep
) -> dict[str, Any]:
    """Serve a version whose gate passed."""
    before, after = await registry.promote(redis, settings.models_root, principal.tenant, version, by=principal.name)
    scorer.models.forget(principal.tenant)
    return {"from": before or None, "to": after}


@router.put("/{version}/shadow")
async def shadow(
    version: str, body: ShadowIn, principal: AdminDep, redis: RedisDep, settings: SettingsDep
) -> dict[str, Any]:
    """Score a sample of fresh comments with this version beside the served one (its counts start afresh)."""
    await registry.start_shadow(
        redis, settings.models_root, principal.tenant, version, sample=body.sample, by=principal.name
    )
    return {"shadow": version, "sample": body.sample}


@router.delete("/shadow")
async def unshadow(principal: AdminDep, redis: RedisDep) -> dict[str, Any]:
    await registry.stop_shadow(redis, principal.tenant)
    return {"shadow": None}
