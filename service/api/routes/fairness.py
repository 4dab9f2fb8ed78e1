"""GET /v1/stats/fairness: per stance toward an article, how many comments were flagged and rejected."""

from __future__ import annotations

from fastapi import APIRouter

from service.api.deps import ModeratorDep, RedisDep
from service.api.schemas import FairnessOut
from service.moderation.stats import fairness

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get("/fairness", response_model=FairnessOut)
async def get_fairness(principal: ModeratorDep, redis: RedisDep, article_id: str) -> FairnessOut:
    return FairnessOut.model_validate(await fairness(redis, principal.tenant, article_id))
