"""The tenant's policy, live: GET /v1/policy (the one in force), PUT /v1/policy (save a new version: admins),
POST /v1/policy/preview (what a change would move, on the last scored comments) and GET /v1/policy/history. A saved
version is in force on every API replica and worker within seconds, without a restart (scoring/live_policy.py);
``MODERATO_POLICIES`` stays the starting policy, version 0."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import AdminDep, ModeratorDep, RedisDep, ScorerDep, SettingsDep
from service.api.schemas import (
    PolicyHistoryOut,
    PolicyIn,
    PolicyOut,
    PolicyPreviewIn,
    PolicyPreviewOut,
    PolicyVersionOut,
)
from service.config import PolicySettings
from service.errors import InvalidInput
from service.moderation import policies
from service.scoring.policy import Policy
from service.scoring.scorer import Scorer

router = APIRouter(prefix="/v1/policy", tags=["policy"])


@router.get("", response_model=PolicyOut)
async def get_policy(principal: ModeratorDep, redis: RedisDep, settings: SettingsDep) -> PolicyOut:
    """The policy in force: the latest saved version, else the settings' (version 0)."""
    stored = await policies.saved(redis, principal.tenant)
    if not stored:
        return PolicyOut(version=0, source="settings", policy=settings.policy_for(principal.tenant))
    return PolicyOut(
        version=int(stored["version"]),
        source="saved",
        policy=PolicySettings.model_validate_json(stored["policy"]),
        by=stored.get("by"),
        at=float(stored.get("at") or 0),
        note=stored.get("note"),
    )


@router.put("", response_model=PolicyOut)
async def save_policy(
    body: PolicyIn, principal: AdminDep, redis: RedisDep, scorer: ScorerDep, settings: SettingsDep
) -> PolicyOut:
    """Save a new version (audited as ``policy_changed``, with the note); in force everywhere within seconds."""
    _build(scorer, body.policy)  # refuse what would not work before anything is saved
    await policies.save(
        redis,
        principal.tenant,
        body.policy,
        by=principal.name,
        note=body.note,
        expected_version=body.expected_version,
    )
    scorer.policies.forget(principal.tenant)  # this replica at once; the others within seconds
    return await get_policy(principal, redis, settings)


@router.post("/preview", response_model=PolicyPreviewOut)
async def preview_policy(
    body: PolicyPreviewIn, principal: AdminDep, redis: RedisDep, scorer: ScorerDep
) -> PolicyPreviewOut:
    """Re-decide the tenant's last ``limit`` scored comments under the policy in force and the proposed one: how
    many decisions move which way, with examples. Nothing is saved."""
    current = await scorer.policies.refresh(principal.tenant)
    result = await policies.preview(redis, principal.tenant, current, _build(scorer, body.policy), limit=body.limit)
    return PolicyPreviewOut.model_validate(result)


@router.get("/history", response_model=PolicyHistoryOut)
async def policy_history(principal: AdminDep, redis: RedisDep) -> PolicyHistoryOut:
    """The saved versions, newest first (up to 20)."""
    return PolicyHistoryOut(
        items=[PolicyVersionOut.model_validate(v) for v in await policies.history(redis, principal.tenant)]
    )


def _build(scorer: Scorer, policy: PolicySettings) -> Policy:
    try:
        return scorer.policies.build(policy)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_policy") from exc
