"""Settings: environment (``MODERATO_*``), then an env file, then defaults. Built once by the CLI or a test and
passed down; no other module reads the environment."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = PROJECT_ROOT / "model_cards" / "moderato-v10"
# The cross-encoded stance pass trained on moderato-v4's encoder: a reply's stance toward its parent comment
# (its card: model_cards/moderato-v6-stance)
DEFAULT_STANCE_MODEL_DIR = PROJECT_ROOT / "model_cards" / "moderato-v6-stance"
MAX_DEFAULT_STREAMS = 4  # measured on 2 cores only; past a few streams, batches get too small to pay

# Default decision thresholds, on the model's raw scores (carried over through the calibration). A score at or above
# a `reject` threshold rejects; else at or above a `review` threshold sends the comment to human review. Chosen on
# the dev splits for high recall at review and high precision at reject; for moderato-v8, whose heads read higher
# than moderato-v4's, each was moved so that it sends held-out civil comments to review (or rejects them) no more
# often than moderato-v4's did (model card, "Built-in thresholds"). moderato-v9's severe output was retrained, and
# `moderato retune-severe` moved its review threshold to the same civil load (a reject threshold is never lowered).
# Insult, threat and identity attack review where the shipped calibration reads 0.8 (2026-12-05): the built-in
# policy holds at least what a Perspective-era rule at 0.8 on each holds. At raw 0.79 / 0.55 / 0.75 they read 0.84 /
# 0.88 / 0.91, and threats the API scored 0.88 ("The judge should be hanged from a lamppost.") were allowed: held
# written clear cases 96.4 % -> 100 %, held-out civil comments held 4.9 % -> 5.1 %, real comments 4.78 % -> 4.88 %
# (model_cards/moderato-v10/README.md, "The built-in review thresholds"). tests/unit/test_calibration.py keeps
# them at or below 0.8 through any refit.
DEFAULT_REVIEW = {
    "toxicity": 0.65,
    "severe_toxicity": 0.54,
    "insult": 0.751,
    "threat": 0.335,
    "identity_attack": 0.538,
    "obscene": 0.7,
}
# No built-in rejection on identity attack alone (2026-12-05): the model reads short comments that stand up for a group
# as attacks on it ("Trans people deserve safety.", "Say no to bisexual hate."), so rejecting at raw 0.95 removed 16 %
# of them with no one looking, where review shows them to a person. Of the rows raters agree are identity attacks,
# 47 of 93 were rejected and 29 reviewed; now 25 rejected (by severe toxicity) and 51 reviewed: none more allowed
# (model_cards/moderato-v10/README.md, "The built-in reject thresholds").
DEFAULT_REJECT = {"severe_toxicity": 0.85, "threat": 0.85}

# Stance label frequencies expected for comments under their own article (agree, disagree, discuss, unrelated). The
# off-topic share is chosen on dev by `moderato choose-stance-prior` (service/training/stance_prior.py; the report is
# model_cards/moderato-v10/stance-prior-metrics.json): the most chatter caught on the dev stories while at most 10 % of
# their on-topic reactions, and 5 % of VAST's and ARC's on-topic comments (the rows the article head held out), are
# called off-topic. Serving and `moderato evaluate` read the report beside the model's weights (``model_stance_prior``),
# so a pinned model keeps its own; this is the share for a model without one. (moderato-v9's head: 0.35 until
# 2026-12-04, chosen on VAST and ARC rows the head had trained on, then 0.05; moderato-v10's: 0.10.)
DEFAULT_UNRELATED_SHARE = 0.1


def stance_prior_with(unrelated: float) -> tuple[float, float, float, float]:
    """A stance prior giving `unrelated` this share and the three other labels the rest, equally."""
    rest = (1.0 - unrelated) / 3
    return (rest, rest, rest, unrelated)


DEFAULT_STANCE_PRIOR = stance_prior_with(DEFAULT_UNRELATED_SHARE)
# The cross-encoded pass reading the article (MODERATO_CROSS_ARTICLE_STANCE=true) keeps the prior its per-class
# offsets were chosen under (`moderato evaluate-stance --tune`, model_cards/moderato-v6-stance): under 0.35 it would
# call 4.4 % of VAST's and 18 % of ARC's on-topic dev comments off-topic, against 1.8 % and 11 % under this one.
CROSS_ARTICLE_STANCE_PRIOR = (0.3, 0.3, 0.3, 0.1)


STANCE_PRIOR_FILE = "stance-prior-metrics.json"  # `moderato choose-stance-prior`'s report, beside the weights


def model_stance_prior(model_dir: Path | None) -> list[float]:
    """The article prior chosen on dev for this model's own head (its choose-stance-prior report), else the default:
    a pinned older model (MODERATO_MODEL_DIR) is served under the prior its confidence maps were fitted at."""
    report = None if model_dir is None else model_dir / STANCE_PRIOR_FILE
    if report is not None and report.exists():
        chosen = json.loads(report.read_text()).get("chosen_prior")
        if chosen:
            return [float(p) for p in chosen]
    return list(DEFAULT_STANCE_PRIOR)


def article_stance_prior(cross_article: bool, model_dir: Path | None = None) -> list[float]:
    """The article prior a pass was tuned under: the late-interaction head's (``model_dir``'s), or the cross-encoded
    pass's."""
    return list(CROSS_ARTICLE_STANCE_PRIOR) if cross_article else model_stance_prior(model_dir)


class PolicySettings(BaseModel):
    """Thresholds of one tenant's policy (attribute -> score), and its word lists."""

    model_config = ConfigDict(extra="forbid")  # a misspelt field must not be a silently ignored rule

    review: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_REVIEW))
    reject: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_REJECT))
    # A comment in a language the model does not read: never a silent allow by default.
    unsupported_language: Literal["allow", "review", "reject"] = "review"
    # Which scores the thresholds are written for: the calibrated ones the API returns (a site's own thresholds,
    # Perspective's meaning), or the model's raw probabilities (the built-in defaults were chosen on those; they
    # are carried over through the model's calibration, so the default decisions do not move). A policy that names
    # thresholds on one side only (review or reject) gets the built-in ones on the other on its own scale: on the
    # calibrated scale those fire at least as early as the built-in policy's, but for review at toxicity 0.65.
    scale: Literal["calibrated", "raw"] = "calibrated"
    # Word lists (service/scoring/word_lists.py): a suspect word sends a comment to review, a banned word rejects it;
    # matched through look-alike letters, stand-ins and spacing. "word*" matches its longer forms too.
    suspect_words: list[str] = Field(default_factory=list, max_length=5000)
    banned_words: list[str] = Field(default_factory=list, max_length=5000)

    @model_validator(mode="before")
    @classmethod
    def _built_in_thresholds_on_their_scale(cls, data: Any) -> Any:
        """A policy that sets no thresholds (word lists only, the language rule only) keeps the built-in ones on the
        raw scale they were chosen on. Read on the calibrated scale, built-in review at toxicity 0.65 is raw 0.78:
        comments that the built-in policy sends to review (calibrated 0.47 and up) were allowed."""
        if isinstance(data, dict) and not {"review", "reject", "scale"} & data.keys():
            return {**data, "scale": "raw"}
        return data

    @field_validator("review", "reject")
    @classmethod
    def _thresholds(cls, value: dict[str, float]) -> dict[str, float]:
        for name, threshold in value.items():
            if not 0.0 <= threshold <= 1.0:
                raise ValueError(f"{name}: a threshold lies between 0 and 1")
        return value

    @field_validator("suspect_words", "banned_words")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        words = list(dict.fromkeys(w.strip() for w in value if w.strip()))
        too_long = [w for w in words if len(w) > 100]
        if too_long:
            raise ValueError(f"a listed word or phrase has at most 100 characters: {too_long[0][:40]}…")
        return words


def _check_http_url(value: str, problem: str) -> None:
    """Refuse (with ``problem``) a configured URL that is not plain http(s)://host, or that carries a user:password."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        raise ValueError(problem)


class WebhookSettings(BaseModel):
    """Where a tenant's decisions are POSTed (a comment's own callback_url wins), the secret that signs them, and
    the non-public hosts or address ranges (``"hooks.internal"``, ``"10.0.0.0/8"``) it may deliver to on purpose;
    every other loopback, private, link-local, multicast or reserved address is refused."""

    url: str | None = None
    secret: SecretStr | None = None
    allow: list[str] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _plain_http_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_http_url(value, "a webhook URL is http(s)://host/... with no user:password")
        return value


class CoralSiteSettings(BaseModel):
    """A Coral Talk site that Moderato moderates for a tenant: where its GraphQL API is, the access token that
    moderates through it, and the signing secrets of the Coral webhook endpoint that tells Moderato the ids Coral
    gave each comment (Coral's external phase sends none). See docs/migrating.md, "Coral round trip"."""

    url: str  # Coral's origin, e.g. https://comments.example.com (its GraphQL API: {url}/api/graphql)
    access_token: SecretStr  # a Coral access token of a moderator or admin (Coral's createToken)
    webhook_secrets: list[SecretStr] = Field(default_factory=list)  # Admin > Configure > Webhooks: signing secret
    # Coral's comment edit window (Admin > Configure > General, "Edit comment timeframe"): an EDIT that arrives
    # within it is matched to the author's latest comment on the story, and rescoring updates that comment
    edit_window_s: int = Field(default=30, ge=1, le=86_400)
    allow: list[str] = Field(default_factory=list)  # non-public hosts it may be reached at, as a webhook's allow

    @field_validator("url")
    @classmethod
    def _origin(cls, value: str) -> str:
        _check_http_url(value, "Coral's URL is http(s)://host[:port] with no user:password")
        return value.rstrip("/")

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/api/graphql"


class OidcSettings(BaseModel):
    """Sign-in to the moderators' page through the site's identity provider (OpenID Connect, service/api/oidc.py)."""

    issuer: str  # the provider's issuer URL; its discovery document is {issuer}/.well-known/openid-configuration
    client_id: str
    client_secret: SecretStr
    role: Literal["moderator", "admin"] = "moderator"  # the role of a person who signs in this way
    admins: list[str] = Field(default_factory=list)  # subjects or e-mail addresses given the admin role instead
    name_claim: str = "preferred_username"  # the claim an account's name is made from (else e-mail, else subject)
    allow: list[str] = Field(default_factory=list)  # non-public hosts the provider may be reached at

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        _check_http_url(value, "an issuer is http(s)://host/... with no user:password")
        return value


class ComputeSettings(BaseSettings):
    """How the model computes: what a model command (evaluate, calibrate) reads on its own, from the same variables
    and ``.env`` as the service, without the rest of the service's settings and their requirements (keys in
    production)."""

    model_config = SettingsConfigDict(env_prefix="MODERATO_", env_file=".env", extra="ignore", frozen=True)

    bf16: bool | None = None  # None: use bf16 where the CPU computes it natively


class Settings(ComputeSettings):
    """Everything configurable about a Moderato process. Field ``x`` is read from ``MODERATO_X``."""

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    # Proxies whose X-Forwarded-Proto/-For are believed: addresses or networks, comma-separated, or "*" (any peer:
    # only where nothing but the proxy can reach the service). Empty: none, the socket's address is the client.
    # Behind a TLS-terminating ingress, set it so the page's session cookie is marked Secure.
    forwarded_allow_ips: str = ""
    # How many trusted proxies append to X-Forwarded-For in front of the service: the client is the entry this many
    # from the right. Entries further left were written by the client and are never believed (the sign-in limit
    # counts per client address: a forged header must not give an attacker a fresh address per try).
    proxy_hops: int = Field(default=1, ge=0, le=10)
    log_level: str = "INFO"

    # Redis: with no URL, `moderato serve` starts an embedded redis-server with its files under `data_dir`.
    redis_url: str | None = None
    data_dir: Path = Path(".moderato")
    # The search index (SQLite FTS5), shared by every API process and worker on the machine; unset:
    # <data_dir>/search.db. Several machines: one file on storage they all mount (deploy/README.md).
    search_path: Path | None = None
    # Replicas on several machines: the URL of the one replica that keeps the index (its worker indexes for every
    # tenant). Set on the others: their /v1/search asks it (with the caller's credentials) and their workers do not
    # index. Unset: this machine keeps its own index.
    search_url: str | None = None
    # Model versions learned from sites' own labels (`moderato learn`), a folder each with its report. Every API
    # replica and worker loads the version a tenant is served from here: on several machines, storage they all
    # mount (deploy/README.md). Unset: <data_dir>/models.
    models_path: Path | None = None
    # The learn job on a schedule, run by `moderato worker` installed with the train extra (off by default): every
    # learn_every_s, each tenant with at least learn_min_new_labels labels given since its last candidate gets one
    # (service/training/schedule.py); it is promoted only when learn_promote and its gate passed. learn_data: the
    # base mix and the standard dev sets the job replays and gates on.
    learn_every_s: float = Field(default=0.0, ge=0.0)
    learn_data: Path | None = None
    learn_min_new_labels: int = Field(default=200, ge=1)
    learn_promote: bool = False
    learn_budget_s: float = Field(default=3600.0, gt=0.0)
    redis_connect_retries: int = 5
    # /healthz fails once Redis has been out of reach this long: a process that cannot serve should be restarted
    health_redis_grace_s: float = 30.0
    # A command's longest wait; a hung Redis answers 503 after this. Above the worker's 1 s XREADGROUP block.
    redis_socket_timeout_s: float = 2.0
    # After a command times out, commands fail at once for this long (a hung Redis costs each request one timeout,
    # not one per command); the first command after it tries Redis again.
    redis_fail_fast_s: float = 5.0
    # MODERATO_REDIS_URL names one node of a Redis Cluster (a managed cluster's configuration endpoint): the client
    # finds the other nodes and routes each tenant's keys to its slot.
    redis_cluster: bool = False
    # Answer "accepted" (comments, results, decisions, reports) only once this many replicas hold the write (WAIT):
    # a failover then loses nothing acknowledged. 0 acknowledges what the primary holds (single Redis: its
    # append-only file). A write not replicated within redis_ack_timeout_ms answers 503; the retry is idempotent.
    redis_ack_replicas: int = Field(default=0, ge=0, le=5)
    redis_ack_timeout_ms: int = Field(default=500, ge=10, le=10_000)

    # API keys: "KEY=TENANT:ROLE,KEY2=TENANT2:ROLE2", or a file with one such entry per line (for secrets).
    api_keys: SecretStr | None = None
    api_keys_file: Path | None = None

    # /metrics names tenants. With a token set it answers only `Authorization: Bearer <token>` (or an admin key);
    # in production it always needs one of the two; in development, unset, it is open.
    metrics_token: SecretStr | None = None

    model_dir: Path = DEFAULT_MODEL_DIR
    # A cross-encoded stance model (claim and comment read together) on the encoder its stance_config names
    # (model_dir's, or an earlier model's folder beside it); None (set MODERATO_STANCE_MODEL_DIR to an empty
    # value): the model's own late-interaction stance head.
    stance_model_dir: Path | None = DEFAULT_STANCE_MODEL_DIR
    # Whether the cross-encoded pass also reads the article (default: only parent comments; the late-interaction
    # head reads articles, measured better at telling off-topic comments: model_cards/moderato-v5-stance).
    cross_article_stance: bool = False
    # Model streams: batches run concurrently, each on its own thread with `torch_threads` threads. On a small CPU
    # two single-threaded streams beat one two-threaded one (bench/model.py: 1.3x at batch 32, 1.8x at batch 4).
    # None: one stream per core, up to 4; torch_threads None: the cores shared out among the streams.
    model_streams: int | None = None
    torch_threads: int | None = None
    # Freeze the start-up heap out of garbage collection once the model is loaded (service/heap.py): full
    # collections otherwise pause everything for ~250 ms. Off only to chase a memory problem.
    gc_freeze: bool = True

    batch_max_items: int = 32
    # Most model work per batch, in windows of 256 tokens (~900 characters; a short comment is a fraction of one):
    # a lone comment waits for at most one such batch on a busy stream, so this bounds what another tenant's
    # long comments can add to its latency, at little cost in throughput (bench/fairness.py).
    batch_max_windows: float = Field(default=8.0, gt=0)
    # Model streams held for short comments (one window or less): a batch with a longer comment runs on the other
    # streams only, so a short comment never waits behind a neighbour's long ones. 0: every stream takes anything
    # (long comments then get every stream, and short ones may wait for a long batch to end).
    short_work_streams: int = Field(default=1, ge=0)
    # How long a batch waits for company once a stream is free. On a 2-core CPU pairing saves little (a comment
    # costs 17.4 ms alone, 13.5 in a pair, 10.4 in a batch of 32: bench/RESULTS.md) and a 5 ms wait added ~4 ms
    # to the p50 at half load; under load, batches still fill while every stream is busy.
    batch_max_wait_ms: float = 0.0

    # Requests per API key, per tenant: "600/minute", "20/second", "10000/hour" (the `limits` library's notation).
    default_rate_limit: str | None = None  # unset: no limit
    rate_limits: dict[str, str] = Field(default_factory=dict)

    max_comments_per_request: int = 256
    # The model work one synchronous request may ask for, in windows (~900 characters of text each; a short comment
    # counts an eighth): 256 short comments or three at the longest fit. More answers 413: one caller's request
    # cannot occupy the model for everyone; bulk work goes through /v1/comments, which is scored fairly.
    max_windows_per_request: float = Field(default=64, gt=0)
    # what the model reads of one comment (over windows, the worst one counting); a longer comment is scored on
    # its opening and held for review, never allowed
    max_comment_chars: int = 20_000
    max_body_bytes: int = 4 * 1024 * 1024

    cache_ttl_s: int = 7 * 24 * 3600
    article_ttl_s: int = 90 * 24 * 3600
    flood_threshold: int = 5  # more than this many posts of one text ...
    flood_window_s: int = 600  # ... within this many seconds adds a `flood` reason

    # Expected stance label frequencies under an article (agree, disagree, discuss, unrelated). None: the one the
    # article pass was tuned under (``served_stance_prior``).
    stance_prior: list[float] | None = None

    # Asynchronous ingest (POST /v1/comments) and workers
    max_backlog: int = 100_000  # comments waiting per tenant before POST /v1/comments answers 429
    backlog_retry_after_s: int = 5
    max_ingest_comments: int = 1000  # per request
    inprocess_worker: bool = True  # `moderato serve` also runs a worker on its own model (one box, one model)
    worker_batch: int = 64
    claim_idle_ms: int = 30_000  # a message pending this long is taken over from its worker
    max_deliveries: int = 5  # then it is dead-lettered
    lease_s: int = 300  # a moderator's claim on a comment
    # Decided comments older than this are erased by the workers, as DELETE /v1/comments/{id} erases one (a comment
    # still waiting for a moderator is kept until decided). None: kept until the platform erases them.
    retention_days: float | None = Field(default=None, gt=0)
    retention_every_s: float = Field(default=60.0, gt=0)  # how often a worker looks for comments past retention
    webhook_max_attempts: int = 8
    webhook_backoff_s: float = 2.0  # first retry after this, doubling up to an hour
    # Per-tenant webhook target as JSON: {"tenant": {"url": "...", "secret": "..."}}
    webhooks: dict[str, WebhookSettings] = Field(default_factory=dict)

    # Coral Talk's external moderation phase, per tenant: the signing secrets Coral shows for the phase (several
    # while one is being rotated). {"tenant": ["whsec_..."]}
    coral_signing_secrets: dict[str, list[SecretStr]] = Field(default_factory=dict)
    # Coral's round trip, per tenant: decisions taken in Moderato's queues reach Coral through its GraphQL API.
    # {"tenant": {"url": "https://comments.example.com", "access_token": "...", "webhook_secrets": ["..."]}}
    coral_sites: dict[str, CoralSiteSettings] = Field(default_factory=dict)

    # Scores as the share of readers who would call a comment that (the model folder's calibration.json); false:
    # the model's raw probabilities.
    calibrated_scores: bool = True

    # The moderator page (/moderate). The session cookie's signing secret: unset, one is made and kept in Redis.
    session_secret: SecretStr | None = None
    # Comments a moderator's page leases at once, and the reasons offered with a decision, per tenant
    # ({"tenant": ["spam", ...]}) or the default list. Free text is always possible too.
    page_batch: int = Field(default=10, ge=1, le=200)
    # Sign-in through the site's identity provider, per tenant (OpenID Connect):
    # {"tenant": {"issuer": "https://idp.example.com", "client_id": "...", "client_secret": "...", "admins": [...]}}
    oidc: dict[str, OidcSettings] = Field(default_factory=dict)
    # Wrong keys one client address may try on the sign-in form before it must wait (guessing a weak key).
    sign_in_failure_limit: str = "10/minute"
    # Moderator accounts (service/moderation/accounts.py): wrong passwords in a row that lock an account, and for
    # how long, counted on the account whatever address the guesses come from
    account_lockout_failures: int = Field(default=5, ge=1, le=1000)
    account_lockout_s: int = Field(default=900, ge=1)
    decision_reasons: dict[str, list[str]] = Field(default_factory=dict)
    default_decision_reasons: list[str] = Field(
        default_factory=lambda: ["personal attack", "hate", "harassment", "spam", "off-topic", "fine in context"]
    )

    default_policy: PolicySettings = Field(default_factory=PolicySettings)
    # Per-tenant overrides as JSON: {"tenant": {"review": {...}, "reject": {...}}}
    policies: dict[str, PolicySettings] = Field(default_factory=dict)

    @field_validator("stance_prior")
    @classmethod
    def _prior_is_a_distribution(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if len(value) != 4 or any(p <= 0 for p in value):
            raise ValueError("stance_prior needs four positive numbers (agree, disagree, discuss, unrelated)")
        total = sum(value)
        return [p / total for p in value]

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        import ipaddress

        for item in (v.strip() for v in value.split(",")):
            if item and item != "*":
                try:
                    ipaddress.ip_network(item, strict=False)
                except ValueError as exc:
                    raise ValueError(f"forwarded_allow_ips: {item!r} is not an address or network (or '*')") from exc
        return value

    @field_validator("default_rate_limit", "rate_limits", "sign_in_failure_limit")
    @classmethod
    def _limits_parse(cls, value: Any) -> Any:
        from limits import parse

        for limit in [value] if isinstance(value, str) else (value or {}).values():
            try:
                parse(limit)
            except ValueError as exc:
                raise ValueError(f"bad rate limit {limit!r} (want e.g. '600/minute')") from exc
        return value

    @model_validator(mode="after")
    def _learning_needs_data(self) -> Settings:
        if self.learn_every_s and self.learn_data is None:
            raise ValueError("MODERATO_LEARN_EVERY_S needs MODERATO_LEARN_DATA (the base mix the job replays)")
        return self

    @model_validator(mode="after")
    def _production_needs_keys(self) -> Settings:
        if self.environment == "production" and not (self.api_keys or self.api_keys_file):
            raise ValueError("MODERATO_API_KEYS or MODERATO_API_KEYS_FILE is required in production")
        return self

    def served_stance_prior(self) -> list[float]:
        """The article prior the service applies: the one set, else the one the article pass was tuned under."""
        if self.stance_prior is not None:
            return self.stance_prior
        return article_stance_prior(self.cross_article_stance and self.stance_model_dir is not None, self.model_dir)

    def stream_layout(self) -> tuple[int, int]:
        """(model streams, torch threads per stream) for this machine."""
        cores = len(os.sched_getaffinity(0))
        streams = self.model_streams or min(cores, MAX_DEFAULT_STREAMS)
        return streams, self.torch_threads or max(1, cores // streams)

    @property
    def search_file(self) -> Path:
        return self.search_path or self.data_dir / "search.db"

    @property
    def models_root(self) -> Path:
        return self.models_path or self.data_dir / "models"

    def policy_for(self, tenant: str) -> PolicySettings:
        return self.policies.get(tenant, self.default_policy)

    def reasons_for(self, tenant: str) -> list[str]:
        return self.decision_reasons.get(tenant, self.default_decision_reasons)

    def redacted(self) -> dict[str, Any]:
        """Settings for the start-up log, secrets hidden."""
        secrets = {"api_keys", "metrics_token", "coral_signing_secrets", "coral_sites", "oidc", "session_secret"}
        return self.model_dump(exclude=secrets, mode="json")
