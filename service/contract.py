"""The service's vocabulary and the payloads that leave it, each defined once.

A *decision* is what the model's policy says (``allow``/``review``/``reject``); an *action* is what a moderator
does (``approve``/``reject``/``escalate``); a *queue* is where a comment waits for a moderator; a *status* is where
a queued comment is on its way. The webhook body, the audit entry and the stored result are built here and nowhere
else, so a decision by the model and one by a moderator reach the platform and the audit log in one shape.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class Decision(StrEnum):
    """The policy's verdict on a scored comment."""

    ALLOW = "allow"
    REVIEW = "review"
    REJECT = "reject"


class Action(StrEnum):
    """What a moderator does with a comment in a queue."""

    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"


class Queue(StrEnum):
    """Review queues, each a sorted set ordered by priority."""

    REVIEW = "review"
    ESCALATED = "escalated"
    REPORTED = "reported"


class Status(StrEnum):
    """A queued comment's progress: accepted, scored (waiting for a moderator), decided, or failed."""

    QUEUED = "queued"
    SCORED = "scored"
    DECIDED = "decided"
    FAILED = "failed"


# Every id a client gives (comment, thread, article, author, parent) and every id in a path: letters, digits and
# `._:-`, so any id the API accepts can be addressed in a URL and in a Redis key; "." and ".." cannot (a client's
# URL library resolves them as path segments), so they are refused.
ID_PATTERN = r"^(?:[A-Za-z0-9._:-]{3,256}|[A-Za-z0-9_:-][A-Za-z0-9._:-]?|\.[A-Za-z0-9_:-])$"

QUEUES: tuple[str, ...] = tuple(Queue)
# Decided comments, newest first: approved or rejected by a moderator (a model rejection is in `rejected` until a
# moderator decides otherwise), and `unmoderated`: allowed by the model, never seen by a moderator.
DECIDED_VIEWS: tuple[str, ...] = ("approved", "rejected", "unmoderated")
ACTIONS: tuple[str, ...] = tuple(Action)
MODEL_ACTOR = "model"  # `decided_by` and the audit `actor` of a decision the model made alone


def stored_result(
    *,
    comment_id: str,
    scores: dict[str, float],
    spans: list[dict[str, Any]],
    stance: dict[str, Any] | None,
    decision: str,
    reasons: list[str],
    cached: bool,
    stance_to_parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A queued comment's stored result: the `/v1/analyze` result shape."""
    result = {
        "id": comment_id,
        "scores": scores,
        "spans": spans,
        "stance": stance,
        "decision": decision,
        "reasons": reasons,
        "cached": cached,
    }
    if stance_to_parent is not None:  # as /v1/analyze: only for a reply whose parent's text is known
        result["stance_to_parent"] = stance_to_parent
    return result


def webhook_body(
    *,
    comment_id: str,
    thread_id: str | None,
    decision: str,
    decided_by: str,
    reasons: list[str],
    scores: dict[str, float],
    at: float,
) -> str:
    """The JSON POSTed to the platform when a comment is decided, by the model (``decided_by`` "model",
    ``decision`` allow/reject) or by a moderator (their name, approve/reject)."""
    return json.dumps(
        {
            "comment_id": comment_id,
            "thread_id": thread_id,
            "decision": decision,
            "decided_by": decided_by,
            "reasons": reasons,
            "scores": scores,
            "at": round(at, 3),
        }
    )


def audit_entry(
    *,
    comment_id: str,
    actor: str,
    action: str,
    reasons: list[str],
    scores: dict[str, float],
    at: float,
    previous_status: str | None = None,
    previous_decision: str | None = None,
) -> dict[str, str]:
    """One entry of the append-only audit stream (flat strings: a stream entry's fields).

    ``previous_status`` and ``previous_decision`` are left out when only the Redis script that appends the entry
    can know them (a moderator's decision reads them atomically with its checks); the script then adds them.
    """
    entry = {
        "comment_id": comment_id,
        "actor": actor,
        "action": action,
        "reason": "; ".join(reasons),
        "scores": json.dumps(scores),
        "at": f"{at:.3f}",
    }
    if previous_status is not None:
        entry["previous_status"] = previous_status
    if previous_decision is not None:
        entry["previous_decision"] = previous_decision
    return entry


def one_of_pattern(names: tuple[str, ...]) -> str:
    """A regular expression that accepts exactly one of ``names`` (for query and path parameters)."""
    return "^(" + "|".join(names) + ")$"
