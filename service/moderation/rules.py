"""The moderation rules: what happens to a comment once it is scored (by a worker) or decided (by a moderator).

A scored comment in a pre-moderated thread goes to review whatever the model said (unless the model rejected it),
a comment sent to review gets its place in the queue, and a decided comment gets its audit entry and its webhook.
The worker and the API's decision route both call these, so the two paths cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from service.config import Settings
from service.contract import MODEL_ACTOR, Decision, Status, audit_entry, stored_result, webhook_body
from service.moderation.priority import review_priority
from service.scoring.scorer import ScoredComment

PREMODERATED_REASON = "premoderated thread"
# A policy reason that is a score over a threshold ("toxicity >= 0.80"): the only kind a trusted author skips.
SCORE_REASON = re.compile(r"^[a-z_]+ >= \d")


@dataclass(frozen=True)
class ModelVerdict:
    """Everything a worker writes for one scored comment (in one Redis script call).

    :param priority: review-queue score, None when the comment is decided without a moderator.
    :param webhook: the webhook body, None while a moderator has still to decide.
    :param audit: the audit entry, None while a moderator has still to decide.
    """

    decision: Decision
    status: Status
    result: dict[str, Any]
    priority: float | None
    webhook: str | None
    audit: dict[str, str] | None


def model_verdict(
    outcome: ScoredComment,
    record: dict[str, str],
    *,
    premoderated: bool,
    heat: int,
    now: float,
    standing: str | None = None,
) -> ModelVerdict:
    """Apply the rules to a queued comment the scorer has just scored: the thread's pre-moderation and the author's
    standing (authors.py) over the policy's decision."""
    decision, reasons = apply_standing(Decision(outcome.decision), list(outcome.reasons), premoderated, standing)
    result = stored_result(
        comment_id=outcome.id,
        scores=outcome.scores,
        spans=outcome.spans,
        stance=outcome.stance,
        decision=decision,
        reasons=reasons,
        cached=outcome.cached,
        stance_to_parent=outcome.stance_to_parent,
    )
    if decision == Decision.REVIEW:
        priority = review_priority(outcome.scores, heat, float(record["received_at"]))
        return ModelVerdict(decision, Status.SCORED, result, priority, None, None)
    webhook = webhook_body(
        comment_id=outcome.id,
        thread_id=record.get("thread_id"),
        decision=decision,
        decided_by=MODEL_ACTOR,
        reasons=reasons,
        scores=outcome.scores,
        at=now,
    )
    audit = audit_entry(
        comment_id=outcome.id,
        actor=MODEL_ACTOR,
        action=decision,
        reasons=reasons,
        scores=outcome.scores,
        at=now,
        previous_status=Status.QUEUED,
        previous_decision="none",
    )
    return ModelVerdict(decision, Status.DECIDED, result, None, webhook, audit)


def apply_standing(
    decision: Decision, reasons: list[str], premoderated: bool, standing: str | None
) -> tuple[Decision, list[str]]:
    """The decision once the thread's pre-moderation and the author's standing are applied (every surface that
    decides a comment with an author calls this: the worker, Coral's phase)."""
    if standing in ("suspended", "banned"):
        return Decision.REJECT, [*reasons, f"author_{standing}"]
    if (premoderated or standing == "premoderated") and decision != Decision.REJECT:
        return Decision.REVIEW, [*reasons, PREMODERATED_REASON if premoderated else "author_premoderated"]
    if standing == "trusted" and decision == Decision.REVIEW and all(SCORE_REASON.match(r) for r in reasons):
        return Decision.ALLOW, [*reasons, "author_trusted"]  # scores under the reject thresholds: no review
    return decision, reasons


def moderator_payloads(
    record: dict[str, str], *, moderator: str, action: str, reason: str, now: float
) -> tuple[str, dict[str, str]]:
    """The webhook body and audit entry of a moderator's action on a scored comment (the script that applies the
    action adds the audit entry's previous status and decision, read atomically with its checks)."""
    scores = _scores(record)
    reasons = [reason] if reason else []
    webhook = webhook_body(
        comment_id=record["id"],
        thread_id=record.get("thread_id"),
        decision=action,
        decided_by=moderator,
        reasons=reasons,
        scores=scores,
        at=now,
    )
    audit = audit_entry(comment_id=record["id"], actor=moderator, action=action, reasons=reasons, scores=scores, at=now)
    return webhook, audit


def webhook_url(record: dict[str, str], settings: Settings, tenant: str) -> str | None:
    """Where a comment's decision is delivered: its own callback URL, else the tenant's webhook."""
    hook = settings.webhooks.get(tenant)
    return record.get("callback_url") or (hook.url if hook else None)


def _scores(record: dict[str, str]) -> dict[str, float]:
    raw = record.get("result")
    scores: dict[str, float] = json.loads(raw).get("scores", {}) if raw else {}
    return scores
