"""Every Redis key Moderato writes, built here and nowhere else. The tenant always comes first, so one site's data
never shares a key with another's and a tenant's whole keyspace matches ``mod:{tenant}:*``. The tenant sits in
braces, a Redis Cluster hash tag: all of one tenant's keys live on one slot, so its Lua scripts and transactions
work on a cluster too."""

from __future__ import annotations

PREFIX = "mod"

# TTLs written by the code itself (those set by an operator live in config.py: results, articles, flood window).
WORKER_HEALTH_TTL_S = 15  # seconds: a worker whose health key is older than this is presumed dead
HEAT_TTL_S = 120  # seconds a thread's per-minute comment counter lives (this minute and the one before)
SESSION_TTL_S = 8 * 3600  # seconds a moderator's page session lasts after sign-in (a working day's shift)
EVENTS_MAXLEN = 5000  # entries each tenant's live-event stream keeps (approximately; XADD MAXLEN ~)


def _key(tenant: str, *parts: str) -> str:
    if not tenant or any(c in tenant for c in ":{}"):
        raise ValueError(f"invalid tenant name {tenant!r}")
    return ":".join((PREFIX, "{" + tenant + "}", *parts))


def result(tenant: str, digest: str) -> str:
    """Cached scoring result (JSON string) for one (model version, normalised text, article id) digest."""
    return _key(tenant, "result", digest)


def article(tenant: str, article_id: str) -> str:
    """Article context (hash: title, body) as registered by the platform."""
    return _key(tenant, "article", article_id)


def article_states(tenant: str, model_version: str, article_id: str) -> str:
    """The article's claim and its encoded token states (ArticleState.to_bytes) for one model version."""
    return _key(tenant, "artvec2", model_version, article_id)  # format 2: claim text, then states


def flood(tenant: str, digest: str) -> str:
    """Sorted set of recent posting times of one normalised text (the flood signal)."""
    return _key(tenant, "flood", digest)


def tenant_pattern(tenant: str) -> str:
    """SCAN pattern for everything a tenant owns."""
    return _key(tenant, "*")


# --- asynchronous ingest, review and feedback ---

# The keys without a tenant hold names only, never comment data: the set of tenant names that have ever queued a
# comment, so workers know which streams to read, and the set of one-time repairs of stored data that are done.
TENANTS = f"{PREFIX}:registry:tenants"
MIGRATIONS = f"{PREFIX}:registry:migrations"

INGEST_GROUP = "workers"  # consumer group on every ingest stream


def ingest(tenant: str) -> str:
    """Stream of accepted comments waiting to be scored (consumer group INGEST_GROUP)."""
    return _key(tenant, "ingest")


def dead_letter(tenant: str) -> str:
    """Stream of ingest messages that failed repeatedly, with their error."""
    return _key(tenant, "deadletter")


def comment(tenant: str, comment_id: str) -> str:
    """Hash: one comment's payload, status, result and decision."""
    return _key(tenant, "comment", comment_id)


def queue(tenant: str, name: str) -> str:
    """Sorted set of comment ids awaiting review; lower score = reviewed sooner."""
    return _key(tenant, "queue", name)


def claim(tenant: str, comment_id: str) -> str:
    """A moderator's lease on a comment (string: moderator id, with a TTL)."""
    return _key(tenant, "claim", comment_id)


def thread(tenant: str, thread_id: str) -> str:
    """Sorted set of a thread's queued comment ids by arrival time (epoch seconds)."""
    return _key(tenant, "thread", thread_id)


def author(tenant: str, author_id: str) -> str:
    """Hash of an author's record: comments scored, flagged and rejected (counters)."""
    return _key(tenant, "author", author_id)


def author_comments(tenant: str, author_id: str) -> str:
    """Sorted set of every comment id of an author that is stored, by time (received, then scored): the author page's
    list, and what erasing an author erases. Uncapped, so erasure needs no scan of the keyspace."""
    return _key(tenant, "authorcomments", author_id)


def authors_indexed(tenant: str) -> str:
    """Set (to the time) once every comment of the tenant is in its author's ``author_comments``. Records stored
    before that set held only scored comments, and only an author's newest 1,000; until a worker has indexed them
    (erasure.index_authors), erasing an author also scans the tenant's records."""
    return _key(tenant, "authorsindexed")


def erased(tenant: str) -> str:
    """Sorted set of erased comment ids by time of erasure: their records are gone, and a retried POST of one is
    "already known", never stored again."""
    return _key(tenant, "erased")


def events(tenant: str) -> str:
    """Capped stream of queue changes (queued, claimed, released, decided) that the moderator page follows live."""
    return _key(tenant, "events")


def session(tenant: str, session_id: str) -> str:
    """Hash: one moderator page session (the key's digest, the CSRF token), expiring after SESSION_TTL_S."""
    return _key(tenant, "session", session_id)


def heat(tenant: str, thread_id: str, minute: int) -> str:
    """Comments posted in a thread during one minute (counter)."""
    return _key(tenant, "heat", thread_id, str(minute))


def premoderated(tenant: str) -> str:
    """Set of thread and article ids whose every comment is held for review."""
    return _key(tenant, "premoderated")


def audit(tenant: str) -> str:
    """Append-only stream of decisions."""
    return _key(tenant, "audit")


def decided(tenant: str, view: str) -> str:
    """Sorted set of decided comment ids in one view (approved, rejected, unmoderated), scored by decision time."""
    return _key(tenant, "decided", view)


def label_tally(tenant: str) -> str:
    """Hash: each comment in the approved and rejected views -> its label as the admin's counts read it
    ('SOURCE:TOXIC', '' when a person did not decide it), brought up to date by moderation/labels.py."""
    return _key(tenant, "label-tally")


def label_tally_at(tenant: str) -> str:
    """String: when the label tally was last brought up to date (epoch seconds)."""
    return _key(tenant, "label-tally-at")


def decision_counts(tenant: str) -> str:
    """Hash of decisions taken, 'ACTOR_KIND:ACTION' -> count (model:allow, moderator:reject, admin:escalate...)."""
    return _key(tenant, "decisions")


def fairness(tenant: str, article_id: str) -> str:
    """Hash of per-stance counters for one article: '<stance>:<counter>' -> count."""
    return _key(tenant, "fairness", article_id)


def suggested_scores(tenant: str) -> str:
    """Stream of scores suggested through Perspective's comments:suggestscore (training labels), capped at
    SUGGESTED_SCORES_MAX entries."""
    return _key(tenant, "suggested")


# Entries one tenant's suggested-scores stream keeps (the oldest are trimmed): a key that sends suggestions without
# end cannot fill Redis for every tenant.
SUGGESTED_SCORES_MAX = 100_000


def webhook_due(tenant: str) -> str:
    """Sorted set of webhook job ids by due time (epoch seconds)."""
    return _key(tenant, "webhooks", "due")


def webhook_job(tenant: str, job_id: str) -> str:
    """Hash: one webhook delivery (url, body, attempts, last error)."""
    return _key(tenant, "webhook", job_id)


def webhook_dead(tenant: str) -> str:
    """Stream of webhook deliveries that ran out of retries."""
    return _key(tenant, "webhooks", "dead")


def recently_scored(tenant: str) -> str:
    """Sorted set of the tenant's most recently scored comments (score = when), capped at RECENTLY_SCORED_MAX: what
    a policy change is previewed on."""
    return _key(tenant, "recent")


RECENTLY_SCORED_MAX = 10_000


def search_pending(tenant: str) -> str:
    """Sorted set of comments stored but not yet in the search index (score = when stored): a worker's indexer
    takes them, indexes them, then removes them (service/moderation/search.py)."""
    return _key(tenant, "search", "pending")


def policy(tenant: str) -> str:
    """Hash: the tenant's saved policy (version, policy JSON, by, at, note); absent: the settings' policy."""
    return _key(tenant, "policy")


SAVED_POLICIES = f"{PREFIX}:{{*}}:policy"  # every tenant's saved policy, as a SCAN pattern


def tenant_of(key: str) -> str:
    """The tenant a key belongs to (the hash tag between its braces)."""
    return key[key.index("{") + 1 : key.index("}")]


def policy_history(tenant: str) -> str:
    """Stream of every saved version of the tenant's policy."""
    return _key(tenant, "policy", "history")


def model_serving(tenant: str) -> str:
    """Hash: the model version this tenant is served (version, previous versions as a JSON list, by, at); absent:
    the shipped model. Every API replica and worker reads it within seconds (service/scoring/serving.py)."""
    return _key(tenant, "model", "serving")


def model_shadow(tenant: str) -> str:
    """Hash: the candidate version scoring a sample of this tenant's live comments beside the served one (version,
    sample share, since)."""
    return _key(tenant, "model", "shadow")


def shadow_stats(tenant: str, version: str) -> str:
    """Hash: a shadowed candidate's counts (scored, agreed, `from>to` changed decisions, toxicity difference sum)."""
    return _key(tenant, "model", "shadow-stats", version)


def shadow_changes(tenant: str, version: str) -> str:
    """List: the newest comments whose decision the shadowed candidate would have changed (JSON, capped)."""
    return _key(tenant, "model", "shadow-changes", version)


SHADOW_CHANGES_MAX = 200


def learn_state(tenant: str) -> str:
    """Hash: the scheduled learn job's last run for this tenant (labels counted then, at, candidate, status)."""
    return _key(tenant, "model", "learn-state")


def learn_lease(tenant: str) -> str:
    """String with a TTL: the worker running this tenant's scheduled learn job now (one at a time)."""
    return _key(tenant, "model", "learn-lease")


def oidc_state(tenant: str, state: str) -> str:
    """One sign-in through the identity provider on its way (nonce, PKCE verifier, redirect URI), for 10 minutes."""
    return _key(tenant, "oidc", state)


def account(tenant: str, name: str) -> str:
    """Hash: one moderator account (role, argon2id password hash, epoch, failures, locked_until, created_*)."""
    return _key(tenant, "account", name)


def accounts(tenant: str) -> str:
    """Set of the tenant's account names."""
    return _key(tenant, "accounts")


def coral_ids(tenant: str) -> str:
    """Hash: Coral's comment id -> Moderato's comment id, learnt from Coral's webhooks (its external phase sends
    no id); kept as long as the comments themselves."""
    return _key(tenant, "coral", "ids")


def coral_unlinked(tenant: str, digest: str) -> str:
    """Moderato's id of a Coral comment whose Coral id is not known yet, by the digest of its story, author and
    text (CORAL_UNLINKED_TTL_S): Coral's COMMENT_CREATED webhook finds it there."""
    return _key(tenant, "coral", "unlinked", digest)


def coral_latest(tenant: str, digest: str) -> str:
    """Moderato's id of an author's latest comment on a story, by the digest of story and author, for as long as
    Coral lets it be edited: an EDIT within that window rescores that comment."""
    return _key(tenant, "coral", "latest", digest)


CORAL_UNLINKED_TTL_S = 24 * 3600  # a comment Coral's webhook never names is forgotten after a day


# Rate-limit counters (written by the `limits` library under this prefix): "mod:ratelimit/...{tenant}/key/...".
RATE_LIMIT_PREFIX = f"{PREFIX}:ratelimit"


def rate_limit_identity(tenant: str) -> str:
    """The tenant part of a rate-limit counter's key, as a Cluster hash tag like every other tenant key."""
    _key(tenant)  # validates the tenant name
    return "{" + tenant + "}"


# The secret that signs page session cookies when MODERATO_SESSION_SECRET is unset: made once, shared by every API
# replica through Redis (which holds the sessions themselves anyway). Not tenant data.
SESSION_SECRET = f"{PREFIX}:registry:session-secret"


def worker_health(worker: str) -> str:
    """A worker's liveness key (TTL'd), read by /readyz and admins. Not tenant data."""
    return f"{PREFIX}:registry:worker:{worker}"
