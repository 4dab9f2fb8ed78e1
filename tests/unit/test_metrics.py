import numpy as np
import pytest

from service.model.labels import STANCE_INDEX
from service.training.metrics import (
    auc,
    auc_interval,
    bias_aucs,
    final_bias_metric,
    fnc_score,
    power_mean,
    span_f1,
    split_half_agreement,
)


def test_span_f1_follows_semeval_conventions() -> None:
    assert span_f1(set(), set()) == 1.0
    assert span_f1({1}, set()) == 0.0
    assert span_f1(set(), {1}) == 0.0
    assert span_f1({1, 2, 3, 4}, {3, 4, 5, 6}) == pytest.approx(0.5)


def test_fnc_score_weights_related_labels() -> None:
    agree, unrelated, discuss = STANCE_INDEX["agree"], STANCE_INDEX["unrelated"], STANCE_INDEX["discuss"]
    gold = [agree, unrelated]
    assert fnc_score(gold, gold) == 1.0
    # related/unrelated right but wrong related label: 0.25 of the 1.25 possible
    assert fnc_score(gold, [discuss, agree]) == pytest.approx(0.25 / 1.25)
    assert fnc_score(gold, [discuss, unrelated]) == pytest.approx(0.5 / 1.25)


def test_auc_needs_enough_of_each_class() -> None:
    assert auc([1, 0, 0], [0.9, 0.1, 0.2]) is None
    assert auc([1] * 5 + [0] * 5, list(range(10, 0, -1))) == 1.0


def test_bias_aucs_find_a_model_that_flags_identity_mentions() -> None:
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 50)
    in_group = np.array([True] * 40 + [False] * 60)
    # score = toxicity signal plus a bonus for merely mentioning the group
    scores = labels * 0.5 + in_group * 0.6 + rng.random(100) * 0.1
    result = bias_aucs(labels, scores, in_group)
    assert result["subgroup_auc"] == 1.0
    assert result["bpsn_auc"] is not None and result["bpsn_auc"] < 0.5  # neutral mentions outrank real abuse
    assert result["bnsp_auc"] == 1.0


def test_final_bias_metric_weights_power_means() -> None:
    groups = {"a": {"subgroup_auc": 1.0, "bpsn_auc": 1.0, "bnsp_auc": 1.0}}
    assert final_bias_metric(1.0, groups) == pytest.approx(1.0)
    assert power_mean([0.9, 0.5]) < np.mean([0.9, 0.5])


def test_split_half_agreement_separates_consistent_from_random_panels() -> None:
    rng = np.random.default_rng(1)
    panels = [5] * 400
    unanimous = [int(v) for v in rng.choice([0, 5], size=400)]  # everyone agrees on every comment
    coin_flips = [int(v) for v in rng.binomial(5, 0.5, size=400)]  # each vote independent of the comment
    assert split_half_agreement(panels, unanimous, reps=3) == pytest.approx(1.0)
    assert split_half_agreement(panels, coin_flips, reps=3) == pytest.approx(0.5, abs=0.06)


def test_auc_interval_holds_the_point_and_narrows_with_more_positives() -> None:
    rng = np.random.default_rng(1)

    def sample(positives: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.array([1] * positives + [0] * 40 * positives)
        return y, y * 0.8 + rng.normal(size=len(y))

    small, large = sample(30), sample(300)
    (low, high), (low_l, high_l) = auc_interval(*small), auc_interval(*large)  # type: ignore[misc]
    assert low < (auc(*small) or 0) < high
    assert high_l - low_l < (high - low) / 2
    assert auc_interval([1, 0, 0], [0.9, 0.1, 0.2]) is None  # too few of a class, as auc()
