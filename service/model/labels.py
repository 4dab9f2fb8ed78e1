"""The one schema of what Moderato predicts: toxicity attributes, span types and stance labels.

Training, inference, the API and the docs all read these tuples; a checkpoint stores them and loading refuses a
checkpoint whose schema differs.
"""

from __future__ import annotations

from typing import Any

ATTRIBUTES: tuple[str, ...] = ("toxicity", "severe_toxicity", "insult", "threat", "identity_attack", "obscene")

# A toxic span is tagged with the attribute it expresses. Toxic Spans' "other" type has no attribute of its own and
# is reported as plain "toxicity".
SPAN_ATTRIBUTES: tuple[str, ...] = ("toxicity", "insult", "threat", "identity_attack", "obscene")

STANCES: tuple[str, ...] = ("agree", "disagree", "discuss", "unrelated")

# A reply's stance toward the comment it answers: the stance head's agree and disagree, and neutral for the rest
# (a reply that discusses or talks past its parent takes no side in the thread).
PARENT_STANCES: tuple[str, ...] = ("agree", "disagree", "neutral")

ATTRIBUTE_INDEX = {name: i for i, name in enumerate(ATTRIBUTES)}
SPAN_INDEX = {name: i for i, name in enumerate(SPAN_ATTRIBUTES)}
STANCE_INDEX = {name: i for i, name in enumerate(STANCES)}


def schema() -> dict[str, list[str]]:
    """The schema as stored in a checkpoint's config."""
    return {"attributes": list(ATTRIBUTES), "span_attributes": list(SPAN_ATTRIBUTES), "stances": list(STANCES)}


def parent_scores(stance_scores: dict[str, float]) -> dict[str, float]:
    """Four-way stance scores as agree / disagree / neutral toward a parent comment."""
    neutral = stance_scores["discuss"] + stance_scores["unrelated"]
    return {"agree": stance_scores["agree"], "disagree": stance_scores["disagree"], "neutral": round(neutral, 4)}


# What an unsure stance answer counts as wherever answers are counted or filtered (the fairness report, a thread's
# reply summary, the queue's stance filters): the label is shown, but only confident labels are counted as labels.
UNSURE = "unsure"


def counted_stance(stance: dict[str, Any] | None) -> str | None:
    """A stance answer's label when it is confident, ``UNSURE`` when it is not, None when there is no stance."""
    if stance is None:
        return None
    return stance["label"] if stance.get("confident") else UNSURE
