"""Labels with their provenance, read from records and suggestions (service/moderation/labels.py)."""

from __future__ import annotations

import json

from service.moderation.labels import decision_label, named_attribute, suggestion_labels
from service.training.learning import label_targets


def record(**fields: str) -> dict[str, str]:
    base = {
        "id": "c1",
        "text": "You absolute clown.",
        "decided_by": "ana",
        "decision": "reject",
        "decided_at": "5.5",
        "model_version": "moderato-v8+x",
    }
    return {**base, **fields}


def test_a_moderators_decision_is_a_label_with_its_provenance() -> None:
    label = decision_label("site", record(decision_reason="insult: rule 4"))
    assert label is not None
    assert (label.toxic, label.source, label.at, label.model, label.attribute, label.by) == (
        1,
        "moderator",
        5.5,
        "moderato-v8+x",
        "insult",
        "ana",
    )


def test_a_reversal_replaces_and_a_report_outcome_is_its_own_source() -> None:
    reversed_ = decision_label("site", record(decision="approve", reversed="1", decision_reason="satire"))
    assert reversed_ is not None and (reversed_.toxic, reversed_.source) == (0, "reversal")
    reported = decision_label("site", record(reports="2", decision_reason=""))
    assert reported is not None and (reported.source, reported.attribute) == ("report", "toxicity")


def test_the_models_own_decisions_and_escalations_are_not_labels() -> None:
    assert decision_label("site", record(decided_by="model")) is None
    assert decision_label("site", record(decision="escalate")) is None
    assert decision_label("site", record(text="")) is None  # nothing to learn from


def test_a_reason_names_an_attribute_in_the_words_moderators_use() -> None:
    assert named_attribute("Identity attack on a group") == "identity_attack"
    assert named_attribute("severe-toxicity, repeat offender") == "severe_toxicity"
    assert named_attribute("THREAT") == "threat"
    assert named_attribute("spam") == "toxicity"
    assert named_attribute("insulting") == "toxicity"  # a whole word only


def test_suggested_scores_are_labels_per_attribute_and_old_entries_still_read() -> None:
    entry = {
        "text": "hi",
        "scores": json.dumps({"INSULT": 0.9, "FLIRTATION": 1.0}),
        "attributes": json.dumps({"insult": 0.9}),
        "model": "m",
        "at": "7",
    }
    (label,) = suggestion_labels("site", "7000-0", entry)
    assert (label.attribute, label.toxic, label.source, label.at, label.model) == (
        "insult",
        1,
        "suggestscore",
        7.0,
        "m",
    )
    old = {"text": "hi", "scores": json.dumps({"TOXICITY_EXPERIMENTAL": 0.2})}
    (label,) = suggestion_labels("site", "9000-1", old)
    assert (label.attribute, label.toxic, label.at, label.id) == ("toxicity", 0, 9.0, "suggested-9000-1")


def test_what_a_label_says_per_attribute() -> None:
    insult = decision_label("site", record(decision_reason="insult"))
    civil = decision_label("site", record(decision="approve", decision_reason=""))
    not_a_threat = decision_label("site", record(decision="approve", decision_reason="not a threat"))
    assert insult and civil and not_a_threat
    as_list = lambda label: ["nan" if v != v else v for v in label_targets(label)]  # noqa: E731
    assert as_list(insult) == [1.0, "nan", 1.0, "nan", "nan", "nan"]
    assert as_list(civil) == [0.0] * 6
    assert as_list(not_a_threat) == ["nan", "nan", "nan", 0.0, "nan", "nan"]
