"""POST /v1/articles: register the article comments are written under (its title and lead are the stance claim)."""

from __future__ import annotations

from fastapi import APIRouter, status

from service.api.deps import PlatformDep, ScorerDep
from service.api.schemas import ArticleBody, ArticleResponse
from service.scoring.articles import Article

router = APIRouter(prefix="/v1", tags=["articles"])


@router.post("/articles", response_model=ArticleResponse, status_code=status.HTTP_201_CREATED)
async def register_article(body: ArticleBody, principal: PlatformDep, scorer: ScorerDep) -> ArticleResponse:
    await scorer.articles.register(principal.tenant, Article(body.id, body.title, body.body))
    return ArticleResponse(id=body.id, registered=True)
