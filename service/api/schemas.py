"""The HTTP contract (v1) as pydantic models. Field names are fixed by the design document."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from service.config import PolicySettings
from service.contract import ID_PATTERN

ID = Field(pattern=ID_PATTERN, description="letters, digits and `._:-`, 1 to 256 characters")
OPTIONAL_ID = Field(default=None, pattern=ID_PATTERN, description="letters, digits and `._:-`, 1 to 256 characters")


def _encodable(value: str) -> str:
    """Refuse text that is not valid Unicode (a lone UTF-16 surrogate, e.g. from JSON's "\\ud800"): it cannot be
    stored, hashed or sent on."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"not valid Unicode text (a lone surrogate at character {exc.start})") from exc
    return value


Text = Annotated[str, AfterValidator(_encodable)]


class RequestModel(BaseModel):
    """A request body: unknown fields are refused (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class CommentBody(RequestModel):
    id: str = ID
    text: str  # checked per comment by the scorer: one bad text does not sink its neighbours
    article_id: str | None = OPTIONAL_ID
    parent_id: str | None = OPTIONAL_ID  # the comment it replies to: inline `parent`, or a queued comment


class ParentBody(RequestModel):
    """The comment that comments of this request reply to (their ``parent_id``), inline like ``article``."""

    id: str = ID
    text: Text = Field(min_length=1, max_length=10_000)


class ArticleBody(RequestModel):
    id: str = ID
    title: Text = Field(min_length=1, max_length=1000)
    body: Text = Field(default="", max_length=100_000)


class AnalyzeRequest(RequestModel):
    comments: list[CommentBody] = Field(min_length=1)
    article: ArticleBody | None = None
    parent: ParentBody | None = None
    store: StrictBool = True


READ_AS = (
    "the comment as the model also read it where it disguises or borrows its words (look-alike letters, leet, spaced "
    'or cut words, vowels dropped, abuse in another language: "fck you" is read as "fuck you"), normalised; the worse '
    "of the two readings is scored. Absent or null where the text is read as written"
)


class SpanOut(BaseModel):
    start: int
    end: int
    attribute: str


class StanceOut(BaseModel):
    label: str
    scores: dict[str, float]
    confidence: float | None = Field(
        default=None,
        description="the chance that `label` is right, calibrated on the grouped stance dev sets (the model card "
        "says which); null on answers stored before confidence existed",
    )
    confident: bool = Field(
        default=False,
        description="whether `confidence` is above the point chosen on dev where confident agree and disagree "
        "labels are right at least 85 % of the time on every comment set; an unsure label is shown as unsure and "
        "is not counted in the fairness report, the thread summary or the queue's stance filters",
    )


class ResultOut(BaseModel):
    id: str
    scores: dict[str, float]
    spans: list[SpanOut]
    stance: StanceOut | None
    decision: str
    reasons: list[str]
    cached: bool
    # agree / disagree / neutral toward the comment it replies to; only when that comment's text is known
    stance_to_parent: StanceOut | None = None
    language: str  # ISO 639-1: detected (or as declared); the model reads English only
    warnings: list[str] = []
    read_as: str | None = Field(default=None, description=READ_AS)


class ErrorBody(BaseModel):
    code: str
    message: str
    status: int | None = None
    details: Any | None = None


class ErrorResultOut(BaseModel):
    """A comment that could not be scored; the rest of the request still was."""

    id: str
    error: ErrorBody


class AnalyzeResponse(BaseModel):
    model: str
    results: list[ResultOut | ErrorResultOut]


class ArticleResponse(BaseModel):
    id: str
    registered: bool


class ErrorEnvelope(BaseModel):
    error: ErrorBody


class IngestComment(RequestModel):
    id: str = ID
    text: str  # checked per comment: a bad one is rejected alone, the rest are queued
    thread_id: str = ID
    article_id: str | None = OPTIONAL_ID
    author_id: str | None = OPTIONAL_ID
    # how the author is shown to moderators (the platform's display name at the time); the id stays the key
    author_name: str | None = Field(default=None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    parent_id: str | None = OPTIONAL_ID
    callback_url: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")


class IngestBody(RequestModel):
    comments: list[IngestComment] = Field(min_length=1)


class IngestItem(BaseModel):
    id: str
    status: str  # queued | duplicate | rejected
    error: str | None = None


class IngestOut(BaseModel):
    accepted: int
    items: list[IngestItem]


class CommentState(BaseModel):
    id: str
    status: str  # queued | scored | decided | failed
    thread_id: str | None = None
    article_id: str | None = None
    result: dict[str, Any] | None = None
    decision: str | None = None
    decided_by: str | None = None
    queue: str | None = None
    error: str | None = None


class ReportBody(RequestModel):
    reason: Text = Field(default="", max_length=2000)


class DecisionBody(RequestModel):
    decision: Literal["approve", "reject", "escalate"]
    reason: Text = Field(default="", max_length=2000)
    reverse: StrictBool = Field(
        default=False,
        description="change the decision of a comment already decided (by the model or a moderator): approve or "
        "reject, with a reason. Without it, a decided comment answers 409 not_in_queue, so two moderators racing "
        "on one comment never overturn each other by accident",
    )


class DecisionOut(BaseModel):
    id: str
    decision: str
    previous: str
    decided_by: str


class ClaimBody(RequestModel):
    count: StrictInt = Field(default=10, ge=1, le=100)
    lease_s: StrictInt | None = Field(default=None, ge=1, le=3600)  # strict: `true` is not one second


class LeasesBody(RequestModel):
    ids: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(min_length=1, max_length=200)
    lease_s: StrictInt | None = Field(default=None, ge=1, le=3600)


class LeasesOut(BaseModel):
    """The comments acted on: those whose lease this moderator still held."""

    moderator: str
    ids: list[str]


class ReportOut(BaseModel):
    id: str
    queue: str


class AuthorRecord(BaseModel):
    """What Moderato has seen of a comment's author (counted since this record began)."""

    comments: int
    flagged: int
    rejected: int
    standing: str | None = None  # suspended, banned, premoderated or trusted, while in force


class StandingIn(RequestModel):
    standing: Literal["suspended", "banned", "premoderated", "trusted", "none"]
    reason: str = Field(min_length=1, max_length=500)
    until: float | None = Field(default=None, description="when it ends (epoch seconds); unset: until ended")


class StandingOut(BaseModel):
    standing: str
    reason: str
    until: float | None = None
    by: str
    at: float


class AuthorComment(BaseModel):
    id: str
    text: str
    thread_id: str | None = None
    status: str
    decision: str | None = None
    decided_by: str | None = None
    reasons: list[str] = []
    scores: dict[str, float] = {}
    received_at: float
    reports: int = 0
    last_report: str | None = None


class AuthorOut(BaseModel):
    """An author as moderators see them: the newest comments first (at most 50)."""

    author_id: str
    author_name: str | None = None
    record: AuthorRecord
    standing: StandingOut | None = None
    comments: list[AuthorComment]


class AuthorErasedOut(BaseModel):
    """What erasing an author did: how many of their comments were erased by this call."""

    author_id: str
    comments_erased: int


class QueueItem(BaseModel):
    """A comment waiting for a moderator, with what the model found."""

    id: str
    text: str
    read_as: str | None = Field(default=None, description=READ_AS)
    thread_id: str | None = None
    article_id: str | None = None
    article_title: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    author: AuthorRecord | None = None
    parent_id: str | None = None
    status: str | None = None
    scores: dict[str, float]
    spans: list[SpanOut]
    stance: StanceOut | None = None
    stance_to_parent: StanceOut | None = None
    reasons: list[str]
    reports: int
    last_report: str | None = None  # the reason a reader gave with the latest report
    received_at: float
    priority: float
    claimed_by: str | None = None


class DecidedItem(QueueItem):
    """A decided comment: its decision (`allow` / `reject` by the model, `approve` / `reject` by a moderator), who
    took it (`model` or the moderator's name), when, and the moderator's reason."""

    decision: str | None = None
    decided_by: str | None = None
    decided_at: float
    decision_reason: str | None = None


class DecidedPageOut(BaseModel):
    view: str
    items: list[DecidedItem]
    next_cursor: str | None = None


class QueuePageOut(BaseModel):
    queue: str
    items: list[QueueItem]
    next_cursor: str | None = None
    unsure: int = Field(
        default=0,
        description="with a stance filter: comments this page passed over because their stance leaned the filtered "
        "way but was unsure (a filter means a confident label)",
    )


class ClaimOut(BaseModel):
    queue: str
    moderator: str
    lease_s: int
    items: list[QueueItem]


class AuditEntryOut(BaseModel):
    """One decision. ``scores`` is the JSON of the attribute scores at the time; ``reason`` joins the reasons."""

    id: str
    comment_id: str  # empty for an action on an author
    author_id: str | None = None  # an action on an author (author_suspended, author_trusted, author_cleared, ...)
    account: str | None = None  # an action on a moderator account (account_created, account_locked, ...)
    policy_version: str | None = None  # policy_changed: the version saved
    model_version: str | None = None  # model_promoted / _rolled_back / _shadowed: the version now ('' = shipped)
    text: str | None = None  # the comment's text as it reads now (None: an action on no comment, or none stored)
    until: str | None = None  # when that action ends ('' = until ended)
    comments_erased: str | None = None  # author_erased: how many of the author's comments that call erased
    actor: str
    action: str
    reason: str = ""
    previous_status: str | None = None
    previous_decision: str | None = None
    scores: str = "{}"
    at: str


class AuditPageOut(BaseModel):
    items: list[AuditEntryOut]
    next_cursor: str | None = None


class DeadLetterPageOut(BaseModel):
    """Dead-lettered ingest messages (comment_id, error, worker, at) or webhook deliveries (job, url, body,
    attempts, error)."""

    kind: Literal["ingest", "webhook"]
    items: list[dict[str, str]]
    next_cursor: str | None = None


class StanceCounts(BaseModel):
    total: int
    flagged: int
    model_rejected: int
    moderator_rejected: int
    flagged_rate: float | None
    model_rejected_rate: float | None
    moderator_rejected_rate: float | None


class FairnessOut(BaseModel):
    article_id: str
    stances: dict[str, StanceCounts] = Field(description="per stance label, the comments confidently labelled so")
    unsure: StanceCounts = Field(description="comments whose stance label was unsure: counted under no label")


class PremoderationOut(BaseModel):
    thread_id: str
    premoderated: bool


class HealthOut(BaseModel):
    status: str


class ReadyOut(BaseModel):
    status: Literal["ready", "not_ready"]
    model: str
    redis: str
    workers_live: int = 0
    workers: list[dict[str, Any]] = []  # names, hosts and counters: for callers who may read /metrics


class ReplySummary(BaseModel):
    """Replies by their confident stance toward this comment; ``unsure`` ones are counted under no label, and the
    disagreeing toxicity reads confident disagreements only."""

    count: int
    agree: int
    disagree: int
    neutral: int
    unsure: int = 0
    disagreeing_max_toxicity: float | None
    disagreeing_mean_toxicity: float | None


class ThreadComment(BaseModel):
    id: str
    parent_id: str | None = None
    author_id: str | None = None
    author_name: str | None = None
    article_id: str | None = None
    text: str
    read_as: str | None = Field(default=None, description=READ_AS)
    status: str
    decision: str | None = None
    queue: str | None = None  # the review queue it waits in, if any: a moderator can act on it
    scores: dict[str, float]
    spans: list[SpanOut] = []
    reasons: list[str] = []
    stance: StanceOut | None = None
    stance_to_parent: StanceOut | None = None
    received_at: float
    replies: ReplySummary


class ThreadArticle(BaseModel):
    id: str
    title: str | None = None


class ThreadOut(BaseModel):
    thread_id: str
    premoderated: bool = False
    articles: list[ThreadArticle] = []
    comments: list[ThreadComment]


class AccountIn(RequestModel):
    name: str = Field(min_length=1, max_length=64, description="lower-case letters, digits, '.', '_' or '-'")
    role: Literal["moderator", "admin"] = "moderator"
    password: str | None = Field(
        default=None, min_length=12, max_length=512, description="unset: a password is generated and shown once"
    )


class PasswordIn(RequestModel):
    password: str | None = Field(
        default=None, min_length=12, max_length=512, description="unset: a password is generated and shown once"
    )


class AccountOut(BaseModel):
    name: str
    role: str
    created_at: float
    created_by: str
    failures: int = Field(description="wrong passwords in a row since the last sign-in")
    locked_until: float | None = Field(default=None, description="set while locked out (epoch seconds)")


class AccountsOut(BaseModel):
    items: list[AccountOut]


class AccountPasswordOut(BaseModel):
    """An account with its new password: the only time it is shown (it is kept only as an argon2id hash)."""

    account: AccountOut
    password: str


class PolicyIn(RequestModel):
    policy: PolicySettings
    note: str = Field(min_length=1, max_length=500, description="why: kept with the version and in the audit log")
    expected_version: int | None = Field(
        default=None, ge=0, description="the version this change was made from (0: the settings'); 409 if it moved"
    )


class PolicyPreviewIn(RequestModel):
    policy: PolicySettings
    limit: int = Field(default=10_000, ge=1, le=10_000, description="the tenant's most recently scored comments")


class PolicyOut(BaseModel):
    version: int = Field(description="0: the starting policy from the settings (MODERATO_POLICIES)")
    source: Literal["settings", "saved"]
    policy: PolicySettings
    by: str | None = None
    at: float | None = None
    note: str | None = None


class PolicyMoveOut(BaseModel):
    count: int
    examples: list[dict[str, Any]]


class PolicyPreviewOut(BaseModel):
    compared: int = Field(description="recently scored comments re-decided under both policies")
    moved: int = Field(description="of them, decided differently under the proposed policy")
    moves: dict[str, PolicyMoveOut] = Field(description="'allow->review', 'review->reject', …: counts and examples")


class PolicyVersionOut(BaseModel):
    version: int
    by: str
    at: float
    note: str
    policy: PolicySettings


class PolicyHistoryOut(BaseModel):
    items: list[PolicyVersionOut]


class SearchPageOut(BaseModel):
    items: list[DecidedItem] = Field(description="newest first; decision fields are null while undecided")
    next_cursor: str | None = None
    pending: int = Field(description="comments stored but not yet searchable (indexed within seconds)")
