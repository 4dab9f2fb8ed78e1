"""The score calibration: a strictly increasing map, loaded with checks, and the built-in thresholds carried over
through it so the default decisions do not move."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.config import DEFAULT_MODEL_DIR, PolicySettings, Settings
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


@pytest.mark.parametrize(
    "site", [{"banned_words": ["scam"]}, {"suspect_words": ["fraud"], "unsupported_language": "reject"}, {}]
)
def test_a_policy_that_sets_no_thresholds_keeps_the_built_in_decisions(site: dict[str, object]) -> None:
    """Word lists alone must not move the built-in thresholds onto the calibrated scale, where review at toxicity
    0.65 allows what the built-in policy reviews."""
    calibration = step_map()
    built_in = Policy.from_settings(Settings().default_policy, calibration)
    sites = Policy.from_settings(PolicySettings.model_validate(site), calibration)
    assert PolicySettings.model_validate(site).scale == "raw"
    assert (sites.review, sites.reject) == (built_in.review, built_in.reject)
    assert PolicySettings.model_validate({**site, "review": {"toxicity": 0.8}}).scale == "calibrated"


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


def test_the_built_in_policy_reviews_what_a_perspective_era_rule_at_0_8_holds() -> None:
    """Built-in review on insult, threat and identity attack, carried to the scale the API answers, fires at 0.8 or
    below: threats the API scored 0.88 were allowed while the built-in threat review sat at 0.88."""
    built_in = Policy.from_settings(Settings().default_policy, Calibration.load(DEFAULT_MODEL_DIR))
    for attribute in ("insult", "threat", "identity_attack", "severe_toxicity"):
        assert built_in.review[attribute] <= 0.8, attribute


def test_the_shipped_calibration_loads_and_round_trips(tmp_path: Path) -> None:
    shipped = Calibration.load(SHIPPED)
    assert shipped is not None and "toxicity" in shipped.knots
    (tmp_path / CALIBRATION_FILE).write_text(shipped.to_json())
    assert Calibration.load(tmp_path) == shipped


def _agreement_rows(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw scores of one attribute: half the agreed rows high, half among the unclear ones, civil rows lower."""
    agreed = np.r_[rng.uniform(0.6, 1.0, 40), rng.uniform(0.1, 0.6, 40)]
    raw = np.concatenate([agreed, rng.uniform(0.0, 0.6, 1000), rng.uniform(0.0, 0.5, 400)])
    labels = np.concatenate([np.ones(80), np.zeros(1400)])
    return raw, labels, np.concatenate([np.zeros(1080, bool), np.ones(400, bool)])


def test_the_finer_map_that_holds_more_agreed_rows_within_the_civil_budget_serves() -> None:
    """A sigmoid rises as slowly as the agreed rows among the unclear ones make it; the isotonic map steps up where
    only agreed rows are, so it holds more of them at 0.8, and it serves because it keeps the civil rows in budget."""
    from service.training.calibration import CIVIL_BUDGET, CIVIL_BUDGET_AT_HALF, fit_agreement

    raw, labels, civil = _agreement_rows(np.random.default_rng(1))
    fitted = fit_agreement(raw, labels, civil)
    assert fitted is not None and fitted.kind == "isotonic" and fitted.within_budget
    assert (fitted(raw[:40]) >= 0.8).all()  # every agreed row above the unclear ones
    civil_scores = fitted(raw[civil])
    assert (civil_scores >= 0.7).mean() <= CIVIL_BUDGET and (civil_scores >= 0.5).mean() <= CIVIL_BUDGET_AT_HALF


def test_a_calibration_is_named_by_what_it_maps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rows mapped another way are another version, so no answer cached under one is served as the other."""
    from service.training import calibration

    raw_one, labels, civil = _agreement_rows(np.random.default_rng(2))
    raw = np.tile(raw_one[:, None], (1, len(ATTRIBUTES)))
    targets = np.tile(labels[:, None], (1, len(ATTRIBUTES)))
    finer = np.where(np.arange(len(ATTRIBUTES)) == 0, np.nan, targets)
    agreement = calibration.Agreement([""] * len(raw), finer, civil, np.ones(len(raw), bool), raw)
    fit_mask = np.ones(len(raw), bool)
    first = calibration.fit(raw, targets, fit_mask, agreement)
    assert calibration.fit(raw, targets, fit_mask, agreement).version == first.version
    monkeypatch.setattr(calibration, "fit_agreement", lambda *_: None)  # the finer attributes left unmapped
    assert calibration.fit(raw, targets, fit_mask, agreement).version != first.version


def test_toxicity_is_fitted_on_the_fit_half_of_the_unselected_panels_only() -> None:
    """Toxic Spans' pre-selected posts are measured, never fitted on (calibration.SHARE_FIT_SOURCES): fitted on, they
    lifted the share a score means on a site's own stream."""
    from service.training.calibration import fit_half, share_fit_rows
    from service.training.data import ToxicityExample

    texts = [f"comment number {i}" for i in range(40)]
    rows = [ToxicityExample(t, source, [0.5]) for t in texts for source in ("civil", "davidson", "ucc")]
    mask = share_fit_rows(rows)
    assert not any(m for m, r in zip(mask, rows, strict=True) if r.source == "civil")
    assert all(m == fit_half(r.text) for m, r in zip(mask, rows, strict=True) if r.source != "civil")
    assert 0 < mask.sum() < 80  # a half of the other two sources' rows


def test_toxicity_is_at_least_a_finer_attribute_raters_almost_surely_agree_on(tmp_path: Path) -> None:
    """A comment raters almost surely agree is a threat is one readers call toxic (``toxicity_at_least``); below the
    floor, or for an attribute not named, toxicity keeps its own map. The rule travels in calibration.json."""
    from dataclasses import replace

    lifted = replace(step_map(), lifts_toxicity=("threat", "insult"), lifts_from=0.9)
    identity = replace(lifted, knots={})  # every attribute's map the identity, to read the rule alone
    assert identity.scores({"toxicity": 0.4, "threat": 0.95, "insult": 0.2})["toxicity"] == 0.95
    assert identity.scores({"toxicity": 0.4, "threat": 0.85, "insult": 0.92})["toxicity"] == 0.92
    assert identity.scores({"toxicity": 0.4, "threat": 0.89, "obscene": 0.99})["toxicity"] == 0.4
    assert identity.scores({"threat": 0.95}) == {"threat": 0.95}  # no toxicity asked for, none made up
    (tmp_path / CALIBRATION_FILE).write_text(lifted.to_json())
    assert Calibration.load(tmp_path) == lifted
    (tmp_path / CALIBRATION_FILE).write_text(step_map().to_json())
    assert Calibration.load(tmp_path) == step_map()  # a file without the rule: no lift


@settings(max_examples=300, deadline=None)
@given(scores=st.lists(st.floats(0, 1), min_size=len(ATTRIBUTES), max_size=len(ATTRIBUTES)))
def test_the_shipped_lift_of_toxicity_moves_no_built_in_decision(scores: list[float]) -> None:
    """The lift raises toxicity only where another attribute's calibrated score is past its own built-in review
    threshold carried onto that scale, so the comment is held either way (scores as served, four places)."""
    from dataclasses import replace

    calibration = Calibration.load(SHIPPED)
    assert calibration is not None and calibration.lifts_toxicity
    unlifted = replace(calibration, lifts_toxicity=())
    raw = dict(zip(ATTRIBUTES, scores, strict=True))
    built_in = Policy.from_settings(PolicySettings(scale="raw"), calibration)  # the same thresholds for both
    assert built_in.decide(calibration.scores(raw)).decision == built_in.decide(unlifted.scores(raw)).decision


def test_toxicity_map_is_centred_so_no_run_of_scores_reads_one_value() -> None:
    """Centred isotonic regression: one knot per isotonic step, at the middle of its run of raw scores, so scores
    inside a step still rise with the raw score (the stepped map read raw toxicity 0.50-0.67 all as 0.352-0.354)."""
    from service.training.calibration import centred

    xs = np.array([0.0, 0.2, 0.3, 0.5, 0.6, 0.9])  # isotonic thresholds: three steps of two knots each
    ys = np.array([0.1, 0.1, 0.4, 0.4, 0.8, 0.8])
    cx, cy = centred(xs, ys)
    assert cx.tolist() == pytest.approx([0.1, 0.4, 0.75]) and cy.tolist() == [0.1, 0.4, 0.8]
    knots = strictly_increasing(cx, cy)
    inside = np.interp([0.3, 0.4, 0.5], *knots)
    assert inside[0] < inside[1] < inside[2] and inside[2] - inside[0] > 0.1  # the middle step's scores rise
    stepped = np.interp([0.3, 0.5], *strictly_increasing(xs, ys))
    assert stepped[1] - stepped[0] < 0.01  # where the stepped map read nearly one value
    assert centred(np.array([0.5]), np.array([0.3]))[0].tolist() == [0.5]  # a single knot stays
