"""The scorer: validated comments in, results with decisions out, through cache, batcher and policy.

Shared by the synchronous API and the ingest workers. Each comment stands on its own: a bad one gets its own
error entry, the others are answered.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from service.config import Settings
from service.errors import TooLarge
from service.metrics import Metrics
from service.model.calibration import Calibration
from service.model.obfuscation import plain_reading
from service.scoring.articles import Article, ArticleRef, ArticleStore
from service.scoring.batcher import MicroBatcher
from service.scoring.cache import CachedResult, ResultCache
from service.scoring.language import SUPPORTED, Language, detect, primary
from service.scoring.live_policy import LivePolicies
from service.scoring.normalise import Normalised, digest, normalise, text_digest, text_problem
from service.scoring.policy import Policy
from service.scoring.serving import Served, ServingModels, Shadow, ShadowRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CommentJob:
    text: str
    article: Any | None  # an article state, or None
    parent: Any | None = None  # the state of the comment it replies to (encoded like an article), or None
    model: str | None = None  # a learned version's id (service/scoring/serving.py); None: the shipped model


@dataclass(frozen=True)
class ArticleJob:
    title: str
    body: str
    parent: bool = False  # a parent comment as a stance target (its text is the title)


# A model window is 256 tokens, 32 of them shared with the next: ~900 characters of English text each.
CHARS_PER_WINDOW = 900


def job_cost(job: CommentJob | ArticleJob) -> float:
    """The model work of a job in windows (what the batcher shares out fairly and bounds per batch): a comment reads
    one window per ~900 characters, a short one at least an eighth (its fixed costs), twice over when it is also
    read plainly (obfuscated text: service/model/obfuscation.py); an article's claim is a short window."""
    if isinstance(job, CommentJob):
        readings = 2 if plain_reading(job.text) is not None else 1
        return readings * window_cost(job.text)
    return 0.25


def window_cost(text: str) -> float:
    """One reading of a comment, in windows."""
    return max(0.125, len(text) / CHARS_PER_WINDOW)


class ModelRunner(Protocol):
    """What the scorer needs of the model (the torch side stays behind this seam)."""

    version: str
    cache_version: str  # the version and whatever else changes answers without changing it (confidence maps)

    def run(self, jobs: list[CommentJob | ArticleJob]) -> Sequence[Any]: ...


@dataclass(frozen=True)
class CommentIn:
    """:param parent_text: the text of the comment this one replies to, when Moderato has it (then the result
    carries the reply's stance toward it)."""

    id: str
    text: str
    article_id: str | None = None
    parent_text: str | None = None
    language: str | None = None  # as the caller declared it (ISO 639-1); None: detected


@dataclass
class ScoredComment:
    id: str
    scores: dict[str, float]
    spans: list[dict[str, Any]]
    stance: dict[str, Any] | None
    decision: str
    reasons: list[str]
    cached: bool
    stance_to_parent: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    # (start, end, {span attribute: score}) in the caller's text
    sentences: list[tuple[int, int, dict[str, float]]] = field(default_factory=list)
    language: str = "en"  # ISO 639-1, as detected (a caller's hint never overrides a confident detection)
    model: str = ""  # the model version that answered (the tenant's served one when the request began)


@dataclass
class CommentError:
    """A comment that cannot be scored; ``code`` is stable (the API maps it to an HTTP status in one place)."""

    id: str
    code: str
    message: str


Outcome = ScoredComment | CommentError


class Scorer:
    """:param store: default for whether texts and results may be written to Redis."""

    def __init__(
        self,
        *,
        settings: Settings,
        runner: ModelRunner,
        batcher: MicroBatcher[Any, Any],
        cache: ResultCache,
        articles: ArticleStore,
        metrics: Metrics,
        policies: LivePolicies,
        models: ServingModels,
        calibration: Calibration | None = None,
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.batcher = batcher
        self.cache = cache
        self.articles = articles
        self.metrics = metrics
        self.calibration = calibration
        self.policies = policies
        self.models = models
        self._shadowing: set[asyncio.Task[None]] = set()

    @property
    def model_version(self) -> str:
        """The shipped model and, when scores are calibrated, the calibration: both are in every cache key. A
        tenant served a version learned from its own labels is answered under that version's (``models``)."""
        return self.models.base.version

    def policy(self, tenant: str) -> Policy:
        """The tenant's policy as last read (``analyze`` re-reads it when it may have changed), on the scale of the
        model it is served."""
        return self.policies.current(tenant, self.models.current(tenant).calibration)

    def check_work(self, comments: list[CommentIn]) -> None:
        """Refuse a synchronous request that asks for more model work than one request may (TooLarge, 413). The
        plain reading that doubles a comment's cost is itself work (up to ~0.1 s for a 20,000-character comment;
        2.3 s before obfuscation.SEGMENT_BUDGET), so it is found only while the request is still within the bound: a
        request whose text alone is over it is refused unread."""
        limit = self.settings.max_windows_per_request
        # case-folded as the model will read it, so that "P1EC3" counts its plain reading as "p1ec3" does
        texts = [c.text[: self.settings.max_comment_chars].casefold() for c in comments]
        work = sum(window_cost(text) for text in texts)
        for text in texts:
            if work > limit:
                break
            work += window_cost(text) if plain_reading(text) is not None else 0.0
        if work > limit:
            raise TooLarge(
                f"the comments hold at least {work:.1f} windows of text (~{CHARS_PER_WINDOW} characters each); one "
                f"request may ask for {limit:g}: send fewer per request, or queue them with POST /v1/comments"
            )

    async def check_work_off_loop(self, comments: list[CommentIn]) -> None:
        """``check_work`` in a worker thread: its plain readings are CPU work the event loop must not wait on."""
        await asyncio.to_thread(self.check_work, comments)

    def check(self, comment: CommentIn) -> CommentError | None:
        """Per-comment validation: the errors that should not sink the comment's neighbours."""
        problem = text_problem(comment.text)
        return None if problem is None else CommentError(comment.id, *problem)

    async def analyze(
        self, tenant: str, comments: list[CommentIn], *, article: Article | None = None, store: bool = True
    ) -> list[Outcome]:
        """Score comments in order; writes nothing to Redis when ``store`` is false."""
        await self.policies.refresh(tenant)  # a policy an admin saved is in force here within seconds
        served = await self.models.refresh(tenant)  # taken once: one request is answered by one model
        inline = None
        if article is not None:
            inline = await (
                self.articles.register(tenant, article) if store else self.articles.encode_unstored(article)
            )
        outcomes: list[Outcome | None] = [self.check(c) for c in comments]
        valid = [i for i, o in enumerate(outcomes) if o is None]
        refs = await self._article_refs(tenant, [comments[i] for i in valid], article, inline)
        # the model reads a text up to max_comment_chars; a longer one is held for review (_outcome)
        texts = {i: normalise(comments[i].text[: self.settings.max_comment_chars]) for i in valid}
        digests = {i: digest(served.cache_version, texts[i].text, _context_key(comments[i], refs)) for i in valid}
        unique = list(dict.fromkeys(digests[i] for i in valid))
        # counting floods needs a key derived from the text: not for texts that must leave no trace
        flood_texts = [text_digest(texts[i].text) for i in valid] if store else []
        lookup = await self.cache.lookup(tenant, unique, flood_texts)
        found = dict(zip(unique, lookup.results, strict=True))
        floods = dict(zip(valid, lookup.flood_counts, strict=True)) if store else {}
        results = await self._results(tenant, served, valid, texts, digests, found, refs, comments, store)
        for i in valid:
            result = results[i]
            if isinstance(result, Exception):
                outcomes[i] = CommentError(comments[i].id, "model_error", f"the model failed on this comment: {result}")
                continue
            cached = found[digests[i]] is not None
            outcomes[i] = self._outcome(tenant, served, comments[i], texts[i], result, cached, floods.get(i), refs)
        return [o for o in outcomes if o is not None]

    async def _article_refs(
        self, tenant: str, comments: list[CommentIn], article: Article | None, inline: ArticleRef | None
    ) -> dict[str, ArticleRef | None]:
        wanted = {c.article_id for c in comments if c.article_id}
        refs: dict[str, ArticleRef | None] = {}
        for article_id in wanted:
            if article is not None and article_id == article.id:
                refs[article_id] = inline
            else:
                refs[article_id] = await self.articles.get(tenant, article_id)
        return refs

    async def _results(
        self,
        tenant: str,
        served: Served,
        valid: list[int],
        texts: dict[int, Normalised],
        digests: dict[int, str],
        found: dict[str, CachedResult | None],
        refs: dict[str, ArticleRef | None],
        comments: list[CommentIn],
        store: bool,
    ) -> dict[int, CachedResult | Exception]:
        """Each valid comment's result: from the cache, or from the model (identical texts are scored once); the
        model's exception for an input it failed on."""
        self.metrics.cache_hits.inc(sum(1 for i in valid if found[digests[i]] is not None))
        misses: dict[str, int] = {}  # digest -> a comment needing the model
        for i in valid:
            if found[digests[i]] is None:
                misses.setdefault(digests[i], i)
        self.metrics.cache_misses.inc(len(misses))
        parents = await self._parent_states(tenant, [comments[i].parent_text for i in misses.values()])
        jobs = [
            CommentJob(texts[i].text, _state(comments[i], refs), parent, served.model)
            for i, parent in zip(misses.values(), parents, strict=True)
        ]
        outcomes = dict(zip(misses, await self.batcher.submit_each(jobs, lane=tenant), strict=True)) if jobs else {}
        fresh = {d: _to_cached(o, served.calibration) for d, o in outcomes.items() if not isinstance(o, Exception)}
        failed = {d: o for d, o in outcomes.items() if isinstance(o, Exception)}
        if store:
            await self.cache.put_many(tenant, fresh)
            self._start_shadow(
                tenant,
                served,
                [(comments[misses[d]].id, job, fresh[d]) for d, job in zip(misses, jobs, strict=True) if d in fresh],
            )
        return {i: found[digests[i]] or fresh.get(digests[i]) or failed[digests[i]] for i in valid}

    def _start_shadow(self, tenant: str, served: Served, fresh: list[tuple[str, CommentJob, CachedResult]]) -> None:
        """Score a sample of this request's fresh comments with the tenant's shadowed candidate as well, after the
        answer: it never delays, changes or caches one."""
        shadow = self.models.shadow(tenant)
        if shadow is None or shadow.served.model == served.model:
            return
        picked = [row for row in fresh if random.random() < shadow.sample]
        if picked:
            task = asyncio.create_task(self._shadow(tenant, served, shadow, picked))
            self._shadowing.add(task)  # held until done: the loop keeps only a weak reference
            task.add_done_callback(self._shadowing.discard)

    async def _shadow(
        self, tenant: str, served: Served, shadow: Shadow, picked: list[tuple[str, CommentJob, CachedResult]]
    ) -> None:
        jobs = [replace(job, model=shadow.served.model) for _, job, _ in picked]
        try:
            outcomes = await self.batcher.submit_each(jobs, lane=tenant)
        except Exception as exc:  # a shadow is a sample: losing one (a batcher shutting down) is not an error
            log.warning("shadow scoring of %s skipped (%s)", tenant, type(exc).__name__)
            return
        ours, theirs = (self.policies.current(tenant, s.calibration) for s in (served, shadow.served))
        rows = [
            ShadowRow(
                comment_id, result.scores, scores, ours.decide(result.scores).decision, theirs.decide(scores).decision
            )
            for (comment_id, _, result), outcome in zip(picked, outcomes, strict=True)
            if not isinstance(outcome, Exception)
            for scores in [_to_cached(outcome, shadow.served.calibration).scores]
        ]
        self.metrics.shadow_scored.inc(len(rows))
        await self.models.record_shadow(tenant, shadow.served.model or "", rows)

    async def _parent_states(self, tenant: str, parent_texts: list[str | None]) -> list[Any | None]:
        """Each distinct parent text encoded once (like an article's claim; free when stance is cross-encoded)."""
        wanted = list(dict.fromkeys(normalise(t).text for t in parent_texts if t))
        if not wanted:
            return [None] * len(parent_texts)
        jobs = [ArticleJob(t, "", parent=True) for t in wanted]
        states = dict(zip(wanted, await self.batcher.submit_many(jobs, lane=tenant), strict=True))
        return [states[normalise(t).text] if t else None for t in parent_texts]

    def _outcome(
        self,
        tenant: str,
        served: Served,
        comment: CommentIn,
        text: Normalised,
        result: CachedResult,
        cached: bool,
        flood_count: int | None,
        refs: dict[str, ArticleRef | None],
    ) -> ScoredComment:
        threshold = self.settings.flood_threshold
        flooded = flood_count if flood_count is not None and flood_count > threshold else None
        language = language_of(comment)
        decision = self.policies.current(tenant, served.calibration).decide(
            result.scores,
            flood_count=flooded,
            flood_window_s=self.settings.flood_window_s,
            unsupported_language=None if language.supported else language.code,
            unread=self._unread(comment.text, result),
            text=comment.text,
        )
        self.metrics.comments_scored.labels(decision.decision).inc()
        spans = []
        for start, end, attribute in result.spans:
            raw_start, raw_end = text.to_raw(start, end)
            spans.append({"start": raw_start, "end": raw_end, "attribute": attribute})
        warnings = []
        if comment.article_id and refs.get(comment.article_id) is None:
            warnings.append(f"article {comment.article_id!r} is not registered: stance is null")
        stance = result.stance if comment.article_id and refs.get(comment.article_id) is not None else None
        return ScoredComment(
            comment.id,
            result.scores,
            spans,
            stance,
            decision.decision,
            decision.reasons,
            cached,
            result.stance_to_parent if comment.parent_text else None,
            warnings,
            [(*text.to_raw(start, end), score) for start, end, score in result.sentences],
            language.code,
            served.version,
        )

    def _unread(self, text: str, result: CachedResult) -> str | None:
        """Why part of a comment went unread, if it did: past the documented maximum, or past the model's windows."""
        limit = self.settings.max_comment_chars
        if len(text) > limit:
            return f"text_too_long: {len(text)} characters, the model reads {limit}"
        return None if result.complete else "text_unread: the model's windows ended before the text did"


def read_as(text: str) -> str | None:
    """A caller's text as the model also reads it where it disguises or borrows its words (``plain_reading``), for a
    moderator or a client to see why it was held; None where it is read as written."""
    return plain_reading(normalise(text).text) if text else None


async def read_as_many(texts: list[str]) -> list[str | None]:
    """``read_as`` of each text, off the event loop: a listing of a long thread is up to 2,000 comments, whose
    readings cost 0.5 s here uncached, and the loop serves every tenant's requests meanwhile."""
    return await asyncio.to_thread(lambda: [read_as(t) for t in texts])


def answered_by(scorer: Scorer, tenant: str, outcomes: list[Outcome]) -> str:
    """The model version a request's answers came from (the tenant's, as the request began)."""
    return next((o.model for o in outcomes if isinstance(o, ScoredComment)), scorer.models.current(tenant).version)


def language_of(comment: CommentIn) -> Language:
    """The comment's language. Detection always runs: a caller's hint (Coral's Perspective integration sends
    ``en`` for every comment) never makes text the model cannot read look readable. A hint of a language the model
    does not read is believed (the caller knows its text is not English)."""
    detected = detect(comment.text)
    if comment.language and detected.supported:
        code = primary(comment.language)
        if code not in SUPPORTED:
            return Language(code, 1.0, False)
    return detected


def _context_key(comment: CommentIn, refs: dict[str, ArticleRef | None]) -> str | None:
    """What besides its text a comment's result depends on: its article (as encoded) and its parent's text."""
    ref = refs.get(comment.article_id) if comment.article_id else None
    article = None if ref is None else f"{comment.article_id}:{ref.fingerprint}"
    if not comment.parent_text:
        return article
    return f"{article or ''}|parent:{text_digest(normalise(comment.parent_text).text)}"


def _state(comment: CommentIn, refs: dict[str, ArticleRef | None]) -> Any | None:
    ref = refs.get(comment.article_id) if comment.article_id else None
    return None if ref is None else ref.state


def _stance_dict(stance: Any | None) -> dict[str, Any] | None:
    if stance is None:
        return None
    return {
        "label": stance.label,
        "scores": stance.scores,
        "confidence": stance.confidence,
        "confident": stance.confident,
    }


def _to_cached(prediction: Any, calibration: Calibration | None) -> CachedResult:
    spans = [(s.start, s.end, s.attribute) for s in prediction.spans]
    return CachedResult(
        calibration.scores(prediction.scores) if calibration else prediction.scores,
        spans,
        _stance_dict(prediction.stance),
        _stance_dict(prediction.stance_to_parent),
        list(prediction.sentences),
        prediction.complete,
    )
