"""The severe-toxicity retune (service/training/severe_tuning.py): its templates, its dev set and its pieces."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from service.training import severe, severe_dev
from service.training.calibration import severe_agreement
from service.training.clear_cases import CLEAR_CASES
from service.training.severe_tuning import Row, SevereOptions, civil_threshold, train_row


def _words(texts: list[str] | tuple[str, ...]) -> str:
    return " ".join(texts).lower()


def test_templates_have_both_classes_in_shared_frames() -> None:
    sentences = severe.training_severe()
    positives = [s for s in sentences if s.severe]
    assert len(positives) >= 200 and len(sentences) - len(positives) >= 150
    assert len({s.text for s in sentences}) == len(sentences)


def test_training_dev_and_clear_cases_share_no_sentence_and_no_wish() -> None:
    """The dev set chooses the mix and the clear cases measure it: neither may repeat what training saw."""
    training = {s.text for s in severe.training_severe()}
    dev = set(severe_dev.SEVERE) | set(severe_dev.NOT_SEVERE)
    clear = {t for texts in CLEAR_CASES.values() for t in texts}
    assert not training & dev and not training & clear and not dev & clear
    for wish in severe.WISHES + severe.MILD_WISHES:
        assert wish.lower() not in _words(sorted(dev | clear)), wish


@pytest.mark.parametrize(
    ("panel", "expected"),
    [
        ({"toxicity": 0.9, "threat": 0.6, "identity_attack": 0.0, "severe_toxicity": 0.0, "obscene": 0.0}, 1.0),
        ({"toxicity": 0.8, "threat": 0.0, "identity_attack": 0.0, "severe_toxicity": 0.7, "obscene": 0.6}, 1.0),
        # a plain insult the whole panel called wholly toxic is not severe on its own
        ({"toxicity": 1.0, "threat": 0.0, "identity_attack": 0.0, "severe_toxicity": 1.0, "obscene": 0.0}, 0.0),
        ({"toxicity": 0.2, "threat": 0.4, "identity_attack": 0.0, "severe_toxicity": 0.0, "obscene": 0.0}, 0.0),
    ],
)
def test_severe_agreement(panel: dict[str, float], expected: float) -> None:
    assert severe_agreement(panel) == expected


def test_severe_agreement_is_unknown_where_a_minority_saw_a_severe_kind() -> None:
    panel = {"toxicity": 0.7, "threat": 0.3, "identity_attack": 0.0, "severe_toxicity": 0.0, "obscene": 0.0}
    assert np.isnan(severe_agreement(panel))


def test_train_row_learns_the_templates_direction_from_their_share() -> None:
    """Base rows say nothing about feature 0; the templates do. With no share the row does not learn it, with a
    share it ranks by it."""
    rng = np.random.default_rng(0)
    base_x = rng.normal(size=(2000, 8)).astype(np.float32)
    base_y = (base_x[:, 1] > 0).astype(np.float32)
    tmpl_x = rng.normal(size=(300, 8)).astype(np.float32)
    tmpl_y = (tmpl_x[:, 0] > 0).astype(np.float32)
    start = Row(np.zeros(8, dtype=np.float32), 0.0)
    opts = SevereOptions(data=None, start=None, out=None, version="t", steps=300)  # type: ignore[arg-type]
    without = train_row(start, (base_x, base_y), (tmpl_x, tmpl_y), 0.0, opts)
    with_share = train_row(start, (base_x, base_y), (tmpl_x, tmpl_y), 0.5, opts)
    assert abs(without.weight[0]) < 0.3 < 1.0 < with_share.weight[0]
    assert with_share.weight[1] > 1.0  # the base mix is not forgotten
    probe = rng.normal(size=(500, 8))
    assert roc_auc_score(probe[:, 1] > 0, without.score(probe)) > 0.95


@pytest.mark.parametrize("share", [0.0, 0.01, 0.1, 0.5])
@pytest.mark.parametrize("scale", [1.0, 1e-6])  # civil scores near zero must not round to a threshold of 0
def test_civil_threshold_fires_on_at_most_the_share(share: float, scale: float) -> None:
    scores = np.random.default_rng(1).random(1000) * scale
    threshold = civil_threshold(scores, share)
    assert threshold > 0 and threshold == round(threshold, 3)
    assert (scores >= threshold).mean() <= share
    if scale == 1.0:  # the lowest such threshold of three places
        assert (scores >= threshold - 1e-3).mean() > share


def test_readings_score_a_text_by_its_worst_reading_and_take_keeps_whole_texts() -> None:
    from service.training.severe_tuning import Readings

    features = np.array([[0.0], [2.0], [-1.0], [1.0], [3.0], [-2.0]], dtype=np.float32)
    readings = Readings(features, np.array([0, 2, 3]))  # texts of 2, 1 and 3 readings
    row = Row(np.array([1.0], dtype=np.float32), 0.0)
    assert np.allclose(readings.score(row), 1 / (1 + np.exp(-np.array([2.0, -1.0, 3.0]))))
    kept = readings.take(np.array([True, False, True]))
    assert np.allclose(kept.score(row), 1 / (1 + np.exp(-np.array([2.0, 3.0]))))
