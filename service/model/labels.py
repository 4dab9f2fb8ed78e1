"""The one schema of what Moderato predicts: toxicity attributes, span types and stance labels.

Training, inference, the API and the docs all read these tuples; a checkpoint stores them and loading refuses a
checkpoint whose schema differs.
"""

from __future__ import annotations

ATTRIBUTES: tuple[str, ...] = ("toxicity", "severe_toxicity", "insult", "threat", "identity_attack", "obscene")

# A toxic span is tagged with the attribute it expresses. Toxic Spans' "other" type has no attribute of its own and
# is reported as plain "toxicity".
SPAN_ATTRIBUTES: tuple[str, ...] = ("toxicity", "insult", "threat", "identity_attack", "obscene")

STANCES: tuple[str, ...] = ("agree", "disagree", "discuss", "unrelated")

ATTRIBUTE_INDEX = {name: i for i, name in enumerate(ATTRIBUTES)}
SPAN_INDEX = {name: i for i, name in enumerate(SPAN_ATTRIBUTES)}
STANCE_INDEX = {name: i for i, name in enumerate(STANCES)}


def schema() -> dict[str, list[str]]:
    """The schema as stored in a checkpoint's config."""
    return {"attributes": list(ATTRIBUTES), "span_attributes": list(SPAN_ATTRIBUTES), "stances": list(STANCES)}
