"""Stance confidence: the map a pass serves with, the threshold chosen on dev, and what counts as a label."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from service.model.labels import UNSURE, counted_stance
from service.model.stance_confidence import ConfidenceMap, load_maps, save_map, stance_confidence
from service.moderation.queues import matches
from service.training.stance_confidence import TARGET_PRECISION, Answers, calibrate_pass


def test_a_map_round_trips_and_each_pass_keeps_the_other(tmp_path: Path) -> None:
    article = ConfidenceMap((0.0, 0.5, 1.0), (0.2, 0.5, 0.9), 0.8, "fit-a")
    parent = ConfidenceMap((0.0, 1.0), (0.3, 0.95), 0.9, "fit-p")
    save_map(tmp_path, "article", article)
    save_map(tmp_path, "parent", parent)
    assert load_maps(tmp_path) == {"article": article, "parent": parent}
    assert stance_confidence(article, 0.75) == (0.7, False)
    assert stance_confidence(article, 0.95) == (0.86, True)


def test_a_pass_without_a_map_is_never_confident() -> None:
    assert stance_confidence(None, 0.99) == (0.99, False)


def test_a_decreasing_map_is_refused(tmp_path: Path) -> None:
    body = {"article": {"top": [0.0, 1.0], "right": [0.9, 0.1], "confident_at": 0.5, "fit": "x"}}
    (tmp_path / "stance_confidence.json").write_text(json.dumps(body))
    with pytest.raises(ValueError, match="must not decrease"):
        load_maps(tmp_path)


def test_only_confident_labels_count_as_labels() -> None:
    assert counted_stance(None) is None
    assert counted_stance({"label": "disagree", "confident": True}) == "disagree"
    assert counted_stance({"label": "disagree", "confident": False}) == UNSURE
    assert counted_stance({"label": "disagree"}) == UNSURE  # stored before confidence existed: not measured


def test_a_stance_filter_means_a_confident_label() -> None:
    def item(stance: dict[str, object]) -> dict[str, object]:
        return {"thread_id": "t", "reasons": [], "stance": stance, "stance_to_parent": stance}

    sure = item({"label": "disagree", "confident": True})
    unsure = item({"label": "disagree", "confident": False})
    for key in ("stance", "stance_to_parent"):
        only = {"stance": None, "stance_to_parent": None, key: "disagree"}
        assert matches(sure, thread=None, attribute=None, **only)  # type: ignore[arg-type]
        assert not matches(unsure, thread=None, attribute=None, **only)  # type: ignore[arg-type]


def _synthetic(rng: np.random.Generator, n: int, easy: float) -> Answers:
    """A pass whose top probability says how likely it is right: right with probability ``top ** (1 / easy)``."""
    top = rng.uniform(0.34, 1.0, n)
    right = rng.random(n) < top ** (1 / easy)
    gold = rng.choice(["agree", "disagree"], n)
    label = np.where(right, gold, np.where(gold == "agree", "disagree", "agree"))
    return Answers(gold, label, top, rng.integers(0, 2, n))


def test_the_threshold_holds_precision_on_every_set_held_out() -> None:
    rng = np.random.default_rng(7)
    sets = {"debagreement": _synthetic(rng, 4000, 1.0), "vast": _synthetic(rng, 4000, 0.5)}  # vast: harder
    confidence_map, report = calibrate_pass(sets, "synthetic")
    assert 0.0 < confidence_map.confident_at < 1.0
    for name, numbers in report["held_out"].items():
        assert numbers["confident_polar_precision"] >= TARGET_PRECISION - 0.03, (name, numbers)
        assert numbers["confident_polar_labels"] > 100
    # the map means what it says over the sets together, on rows it was not fitted on (each set alone is easier or
    # harder than the pool: that is what the per-set threshold check is for)
    assert report["held_out_pooled_ece"] < 0.03
