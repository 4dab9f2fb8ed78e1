"""Article context: registered text in Redis, encoded claim states cached in Redis and in process memory.

An article is encoded once per model version (title + lead), however many comments arrive under it.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service import redis_keys as keys
from service.errors import InvalidInput
from service.metrics import Metrics
from service.redis_client import text_map

LOCAL_ENTRIES = 2048  # articles whose states a process keeps in memory
LOCAL_TTL_S = 60.0  # seconds before a process re-reads an article (another process may have re-registered it)
MAX_TITLE_CHARS = 1000
MAX_BODY_CHARS = 100_000
FINGERPRINT_CHARS = 32  # stored in front of the state bytes


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    body: str = ""

    @property
    def fingerprint(self) -> str:
        """Changes whenever the article's text does, so results cached under the old text are not reused."""
        return hashlib.sha256(f"{self.title}\x00{self.body}".encode()).hexdigest()[:FINGERPRINT_CHARS]


@dataclass(frozen=True)
class ArticleRef:
    """An article's encoded state with the fingerprint of the text it was encoded from."""

    state: Any
    fingerprint: str


class ArticleStore:
    """:param encode: async (title, body) -> article state; :param to_bytes / from_bytes: state (de)serialisers."""

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        model_version: str,
        ttl_s: int,
        metrics: Metrics,
        encode: Callable[[str, str], Awaitable[Any]],
        to_bytes: Callable[[Any], bytes],
        from_bytes: Callable[[bytes], Any],
    ) -> None:
        self.redis = redis
        self.model_version = model_version
        self.ttl_s = ttl_s
        self.metrics = metrics
        self.encode = encode
        self.to_bytes = to_bytes
        self.from_bytes = from_bytes
        self._local: OrderedDict[tuple[str, str], tuple[float, Any]] = OrderedDict()

    @staticmethod
    def validate(article: Article) -> None:
        if not article.id or len(article.id) > 256:
            raise InvalidInput("article id must be 1 to 256 characters", code="invalid_article")
        if not article.title.strip():
            raise InvalidInput(f"article {article.id!r} needs a title", code="invalid_article")
        if len(article.title) > MAX_TITLE_CHARS or len(article.body) > MAX_BODY_CHARS:
            raise InvalidInput(f"article {article.id!r} is too long", code="invalid_article")

    async def encode_unstored(self, article: Article) -> ArticleRef:
        """Encode without writing anything (for `store: false` requests)."""
        self.validate(article)
        return ArticleRef(await self.encode(article.title, article.body), article.fingerprint)

    async def register(self, tenant: str, article: Article) -> ArticleRef:
        """Store the article (re-encoding only if its text changed) and return its state."""
        self.validate(article)
        known = await self.get(tenant, article.id)
        if known is not None and known.fingerprint == article.fingerprint:
            return known
        ref = ArticleRef(await self.encode(article.title, article.body), article.fingerprint)
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(keys.article(tenant, article.id), mapping={"title": article.title, "body": article.body})
                pipe.expire(keys.article(tenant, article.id), self.ttl_s)
                pipe.set(keys.article_states(tenant, self.model_version, article.id), self._pack(ref), ex=self.ttl_s)
                await pipe.execute()
        except RedisError:
            self.metrics.redis_errors.labels("article_register").inc()
            raise  # the API's Redis handler: 503 redis_unavailable with Retry-After, as on every other path
        self._remember(tenant, article.id, ref)
        return ref

    async def get(self, tenant: str, article_id: str) -> ArticleRef | None:
        """The article's state, or None if it was never registered (or has expired)."""
        local = self._local.get((tenant, article_id))
        if local and local[0] > time.monotonic():
            self._local.move_to_end((tenant, article_id))
            return local[1]  # type: ignore[no-any-return]
        try:
            ref = await self._load(tenant, article_id)
        except RedisError as exc:
            self.metrics.redis_errors.labels("article_get").inc()
            logging.getLogger(__name__).warning("article %s unavailable: %s", article_id, exc)
            return None
        if ref is not None:
            self._remember(tenant, article_id, ref)
        return ref

    async def _load(self, tenant: str, article_id: str) -> ArticleRef | None:
        raw = await self.redis.get(keys.article_states(tenant, self.model_version, article_id))
        if raw is not None:
            raw = raw if isinstance(raw, bytes) else raw.encode()
            return ArticleRef(self.from_bytes(raw[FINGERPRINT_CHARS:]), raw[:FINGERPRINT_CHARS].decode())
        # registered under another model version: encode its text for this one
        stored = text_map(await self.redis.hgetall(keys.article(tenant, article_id)))
        if not stored:
            return None
        article = Article(article_id, stored["title"], stored.get("body", ""))
        ref = ArticleRef(await self.encode(article.title, article.body), article.fingerprint)
        await self.redis.set(
            keys.article_states(tenant, self.model_version, article_id), self._pack(ref), ex=self.ttl_s
        )
        return ref

    def _pack(self, ref: ArticleRef) -> bytes:
        return ref.fingerprint.encode() + self.to_bytes(ref.state)

    def _remember(self, tenant: str, article_id: str, state: ArticleRef) -> None:
        self._local[(tenant, article_id)] = (time.monotonic() + LOCAL_TTL_S, state)
        self._local.move_to_end((tenant, article_id))
        while len(self._local) > LOCAL_ENTRIES:
            self._local.popitem(last=False)
