import numpy as np

from service.config import DEFAULT_REJECT, DEFAULT_REVIEW
from service.model.labels import ATTRIBUTES
from service.training.data import ToxicityExample
from service.training.evaluate import ScoredRows, threat_flags

THREAT = ATTRIBUTES.index("threat")


def _example(source: str, threat_target: float) -> ToxicityExample:
    targets = [float("nan")] * len(ATTRIBUTES)
    targets[THREAT] = threat_target
    return ToxicityExample("text", source, targets)


def test_threat_flags_count_false_alarms_and_caught_threats_per_source() -> None:
    review, reject = DEFAULT_REVIEW["threat"], DEFAULT_REJECT["threat"]
    examples = [
        _example("civil", 0.0),  # not a threat, scored below review
        _example("civil", 0.2),  # not a threat, sent to review
        _example("civil", float("nan")),  # unlabelled, rejected: counts as not a threat
        _example("civil", 1.0),  # a threat, caught
        _example("ucc", 0.0),
    ]
    scores = np.zeros((len(examples), len(ATTRIBUTES)))
    scores[:, THREAT] = [review - 0.01, review, reject, reject, 0.0]
    flags = threat_flags(ScoredRows(examples, scores, np.zeros(len(examples)), [set()] * len(examples)))
    assert flags["per_source"]["civil"] == {
        "rows": 4,
        "not_threat_to_review": 2,
        "not_threat_rejected": 1,
        "threats": 1,
        "threats_to_review": 1,
    }
    assert flags["per_source"]["ucc"]["not_threat_to_review"] == 0
