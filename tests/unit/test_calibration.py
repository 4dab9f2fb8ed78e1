"""The score calibration: a strictly increasing map, loaded with checks, and the built-in thresholds carried over
through it so the default decisions do not move."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.config import PolicySettings
from service.model.calibration import CALIBRATION_FILE, Calibration, strictly_increasing
from service.model.labels import ATTRIBUTES
from service.scoring.policy import Policy

SHIPPED = Path(__file__).resolve().parent.parent.parent / "model_cards" / "moderato-v10"


def step_map() -> Calibration:
    """An isotonic-like step function with flat runs, made strictly increasing."""
    xs = np.array([0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9])
    ys = np.array([0.0, 0.0, 0.1, 0.1, 0.4, 0.8, 0.8])
    return Calibration("cal-test", {a: strictly_increasing(xs, ys) for a in ATTRIBUTES})


def test_the_map_is_strictly_increasing_and_spans_zero_to_one() -> None:
    xs, ys = step_map().knots["toxicity"]
    assert xs[0] == 0.0 and xs[-1] == 1.0
    assert all(b > a for a, b in zip(ys, ys[1:], strict=False))


@settings(max_examples=300, deadline=None)
@given(scores=st.lists(st.floats(0, 1), min_size=len(ATTRIBUTES), max_size=len(ATTRIBUTES)))
def test_carried_over_thresholds_make_the_same_decisions(scores: list[float]) -> None:
    calibration = step_map()
    raw = dict(zip(ATTRIBUTES, scores, strict=True))
    before = Policy.from_settings(PolicySettings(scale="raw")).decide(raw)
    after = Policy.from_settings(PolicySettings(scale="raw"), calibration).decide(
        {a: calibration.score(a, v) for a, v in raw.items()}
    )
    assert before.decision == after.decision


def test_a_sites_own_thresholds_are_taken_on_the_calibrated_scale() -> None:
    policy = Policy.from_settings(PolicySettings(review={"toxicity": 0.8}), step_map())
    assert policy.review == {"toxicity": 0.8}


@pytest.mark.parametrize(
    "body",
    [
        {"version": "x", "attributes": {"toxicity": {"raw": [0, 1], "calibrated": [0.5, 0.5]}}},
        {"version": "x", "attributes": {"toxicity": {"raw": [0.5, 0.2], "calibrated": [0.1, 0.2]}}},
        {"version": "x", "attributes": {"toxicity": {"raw": [0], "calibrated": [0]}}},
    ],
)
def test_a_map_that_is_not_strictly_increasing_is_refused(tmp_path: Path, body: dict[str, object]) -> None:
    (tmp_path / CALIBRATION_FILE).write_text(json.dumps(body))
    with pytest.raises(ValueError):
        Calibration.load(tmp_path)


def test_the_shipped_calibration_loads_and_round_trips(tmp_path: Path) -> None:
    shipped = Calibration.load(SHIPPED)
    assert shipped is not None and "toxicity" in shipped.knots
    (tmp_path / CALIBRATION_FILE).write_text(shipped.to_json())
    assert Calibration.load(tmp_path) == shipped
