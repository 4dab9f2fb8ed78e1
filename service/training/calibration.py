"""``moderato calibrate``: fit each attribute's map from the model's raw score to the scale sites set thresholds
on, on dev rows, and measure it on other dev rows.

Toxicity is the share of annotators who would call the comment toxic (Perspective's definition of its scores),
fitted by isotonic regression on dev rows that record a panel's shares: Davidson et al. (share voting hate or
offensive) and the Unhealthy Comments Corpus (hostile, the annotators' confidence turned into a share). Civil
Comments Toxic Spans (share not saying "not toxic") is measured but not fitted on (SHARE_FIT_SOURCES says why).
Served toxicity is then at least each finer attribute's calibrated score from TOXICITY_LIFT_FROM up
(TOXICITY_LIFTED_BY; written into calibration.json, service/model/calibration.py).

The finer attributes (severe toxicity, insult, threat, identity attack, obscene) cannot be read that way: the panels
chose one type per span, or one label per tweet, so a plain insult that some raters typed "insult" and others
"other" had an insult share near one half, and a site's Perspective rule ``INSULT >= 0.8`` could never fire (issue
22). Each is instead the probability that raters agree the attribute is there (a type at least SEEN_BY of the panel
marked on a comment most called toxic, a hateful ToxiGen statement, a tweet most voted hate, OLID's targeted
insults), against comments no rater gave it and civil comments, with the positives weighted up (the prior they would
have at even odds) as far as the civil false-flag budget allows (at most CIVIL_BUDGET of the fit half's civil
comments at 0.7 or above, CIVIL_BUDGET_AT_HALF at 0.5). Two kinds of map are fitted, a sigmoid (Platt scaling) and an
isotonic one, and the one that scores more of the fit half's agreed rows at 0.8 serves (``fit_agreement``): a sigmoid
rises as slowly as the mass of unclear rows makes it, so moderato-v9's held only 65 % of plainly severe comments at 0.8.

A second hash splits the dev rows in half: maps are fitted on one half and every number reported comes from the
other, and from hand-written clear cases no map or model ever saw (service/training/clear_cases.py).

Writes ``calibration.json`` (the map serving applies), ``calibration-metrics.json`` and ``reliability.png`` into
the model folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.config import PolicySettings, model_stance_prior
from service.contract import Decision
from service.model.calibration import CALIBRATION_FILE, Calibration, strictly_increasing
from service.model.labels import ATTRIBUTE_INDEX, ATTRIBUTES
from service.model.predict import Predictor
from service.scoring.policy import Policy
from service.system import git_commit, machine
from service.training.data import (
    SEEN_BY,
    ToxicityExample,
    normalise,
    split_toxicity,
    toxicity_examples,
    ucc_labels,
    ucc_share,
)
from service.training.evaluate import predict_all

log = logging.getLogger(__name__)

METRICS_FILE = "calibration-metrics.json"
PLOT_FILE = "reliability.png"
OUTPUTS = (CALIBRATION_FILE, METRICS_FILE, PLOT_FILE)  # what this command writes into a model folder
PROPORTION_SOURCES = ("civil", "davidson", "ucc")
# The sources toxicity's map is fitted on (all three are measured). Toxic Spans is left out of the fit: its posts were
# pre-selected as likely toxic and its annotators marked spans or said "not toxic", so the share it gives a score is
# not what a site's own stream gives it. Fitted with it, scores ran above the panels' share on unselected news
# comments (UCC +0.10 on average, ARC's civil posts +0.035) and below it at the top, where Davidson's panels agree.
SHARE_FIT_SOURCES = ("davidson", "ucc")
# Toxicity is at least each of these attributes' calibrated score where that is TOXICITY_LIFT_FROM or more (the chance
# raters agree a threat, an insult, an identity attack or severe abuse is there: such a comment is one readers call
# toxic). The toxicity output learned from few threats and read plain ones at 0.5-0.7 raw ("I'll cut your tongue
# out."); on the held-out half and civil comments the lift moves no civil comment over 0.5 or 0.7 and pooled ECE by
# 0.001 (2026-12-05, the model card). Obscenity is left out: swearing is not abuse ("fucking brilliant").
TOXICITY_LIFTED_BY = ("severe_toxicity", "insult", "threat", "identity_attack")
TOXICITY_LIFT_FROM = 0.9
Knots = tuple[tuple[float, ...], tuple[float, ...]]
CIVIL_BUDGET = 0.008  # the share of the fit half's civil comments a finer attribute may score at 0.7 or above
# ... and at 0.5 or above: about what moderato-v9's sigmoids gave the attributes that fired most on civil comments
# (severe toxicity 7.5 %, threat 11.4 %, obscene 10.4 % of the held-out half), so that a steeper map cannot trade a
# site's rule at 0.5 for its rule at 0.8
CIVIL_BUDGET_AT_HALF = 0.08
BINS = 10
FLAG_LEVELS = (0.7, 0.8, 0.9)


def fit_half(text: str) -> bool:
    """Which half of the dev rows a comment is in: the fit half (True) or the held-out half."""
    return int(hashlib.md5(("calibration:" + normalise(text)).encode()).hexdigest()[:8], 16) % 2 == 0


def ucc_hostile_shares(data: Path) -> dict[str, float]:
    """UCC: the share of annotators who said hostile, from the label and its confidence, by normalised text (none
    where the data folder has no UCC)."""
    if not (data / "toxicity" / "ucc_val.csv.gz").exists():
        return {}
    return {text: ucc_share(row, "hostile") for text, row in ucc_labels(data).items()}


Sources = dict[str, list[ToxicityExample]]  # every toxicity source by name (data.toxicity_examples), loaded once


def proportion_rows(data: Path, sources: Sources) -> tuple[list[ToxicityExample], np.ndarray]:
    """Dev rows with annotator proportions, and their targets (rows x attributes; nan where unknown)."""
    ucc = ucc_hostile_shares(data)
    rows: list[ToxicityExample] = []
    targets: list[list[float]] = []
    for source in PROPORTION_SOURCES:
        for ex in split_toxicity(sources[source])[1]:
            target = list(ex.targets)
            if source == "ucc":  # the loader keeps only the hard label; the panel's share is what calibration needs
                target = [np.nan] * len(ATTRIBUTES)
                target[ATTRIBUTE_INDEX["toxicity"]] = ucc.get(normalise(ex.text), np.nan)
            rows.append(ex)
            targets.append(target)
    return rows, np.array(targets, dtype=float)


AGREEMENT_SOURCES = ("civil", "davidson", "olid", "toxigen", "ucc", "wiki_identity", "arc_civil")


@dataclass
class Agreement:
    """Dev rows labelled by rater agreement for the finer attributes (module docstring).

    :param labels: rows x attributes: 1 raters agree it is there, 0 it is not, nan unknown (toxicity: always nan).
    :param civil: civil comments (``is_civil``), 0 for every finer attribute.
    """

    texts: list[str]
    labels: np.ndarray
    civil: np.ndarray
    fit: np.ndarray
    raw: np.ndarray = field(default_factory=lambda: np.zeros((0, len(ATTRIBUTES))))


def is_civil(ex: ToxicityExample) -> bool:
    """A comment raters call clean: UCC's that (almost) none called hostile or antagonizing, Wikipedia's and
    ToxiGen's labelled not toxic, ARC's civil opinion posts."""
    toxic = ex.targets[ATTRIBUTE_INDEX["toxicity"]]
    return ex.source == "arc_civil" or (ex.source in ("ucc", "wiki_identity", "toxigen") and toxic < 0.2)


def agreement_label(ex: ToxicityExample, attribute: str) -> float:
    """1 where raters agree ``attribute`` is in ``ex``, 0 where none gave it, nan where the source cannot say."""
    a = ATTRIBUTE_INDEX[attribute]
    target = ex.targets[a]
    if is_civil(ex):
        return 0.0
    if ex.source == "civil" and attribute == "severe_toxicity":
        return severe_agreement(ex.panel)
    if ex.source == "civil":
        if ex.panel["toxicity"] >= 0.5 and ex.panel[attribute] >= SEEN_BY:
            return 1.0
        return 0.0 if ex.panel[attribute] == 0 or ex.panel["toxicity"] < 0.3 else np.nan
    if ex.source == "davidson" and attribute in ("identity_attack", "severe_toxicity"):
        return 1.0 if target >= 0.5 else 0.0 if target == 0 else np.nan  # most voted hate / none did
    if ex.source == "davidson" or (ex.source, attribute) in (("toxigen", "identity_attack"), ("olid", "insult")):
        return target  # 0/1 where the source labels it, nan where not
    return np.nan


def severe_agreement(panel: dict[str, float]) -> float:
    """Toxic Spans has no severity question, so "raters agree it is severe" is read as: most of a panel that mostly
    called it toxic marked a threat or an identity attack, or called the whole comment toxic and marked obscenity
    (the kinds Perspective's SEVERE_TOXICITY answers to). Not severe: a comment most did not call toxic, or one no
    rater marked with any of those kinds. moderato-v8's map read "the whole comment is toxic" alone as severe, which
    is true of plain insults too (service/training/severe.py)."""
    toxic = panel["toxicity"]
    kinds = max(panel["threat"], panel["identity_attack"], min(panel["severe_toxicity"], panel["obscene"]))
    if toxic >= 0.5 and kinds >= 0.5:
        return 1.0
    return 0.0 if toxic < 0.3 or kinds == 0 else np.nan


def agreement_rows(sources: Sources) -> Agreement:
    rows = [ex for name in AGREEMENT_SOURCES for ex in split_toxicity(sources[name])[1]]
    labels = np.array([[np.nan] + [agreement_label(ex, a) for a in ATTRIBUTES[1:]] for ex in rows], dtype=float)
    return Agreement(
        [ex.text for ex in rows],
        labels,
        np.array([is_civil(ex) for ex in rows]),
        np.array([fit_half(ex.text) for ex in rows]),
    )


def _bin_of(predicted: np.ndarray, bins: int) -> np.ndarray:
    """Each score's equal-width bin (a score of 1.0 in the last one)."""
    return np.minimum((predicted * bins).astype(int), bins - 1)


def ece(predicted: np.ndarray, observed: np.ndarray, bins: int = BINS) -> float:
    """Expected calibration error: |mean score - mean annotator share| per equal-width bin, weighted by rows."""
    edges = _bin_of(predicted, bins)
    total = 0.0
    for b in range(bins):
        inside = edges == b
        if inside.any():
            total += inside.sum() * abs(predicted[inside].mean() - observed[inside].mean())
    return float(total / len(predicted))


def reliability(predicted: np.ndarray, observed: np.ndarray, bins: int = BINS) -> list[dict[str, float]]:
    edges = _bin_of(predicted, bins)
    return [
        {
            "bin": round(b / bins, 2),
            "rows": int((edges == b).sum()),
            "mean_score": round(float(predicted[edges == b].mean()), 4),
            "mean_share": round(float(observed[edges == b].mean()), 4),
        }
        for b in range(bins)
        if (edges == b).any()
    ]


def fit_share(raw: np.ndarray, targets: np.ndarray, fit_mask: np.ndarray) -> Knots:
    """Toxicity's knots: isotonic regression of the panel's share on the raw score, centred (``centred``)."""
    from sklearn.isotonic import IsotonicRegression

    a = ATTRIBUTE_INDEX["toxicity"]
    known = fit_mask & ~np.isnan(targets[:, a])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw[known, a], targets[known, a])
    return strictly_increasing(*centred(np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_)))


def centred(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An isotonic step map as one knot per step, at the middle of its run of raw scores, joined by straight lines
    (centred isotonic regression, Oron and Flournoy 2017). The steps made a staircase: raw toxicity 0.50 to 0.67 all
    read 0.352-0.354, so a site's threshold could not tell those comments apart, and rounding to four places tied the
    built-in threshold with scores just under it. On the held-out half the centred map reads pooled ECE 0.0364 ->
    0.0357 (Davidson 0.021 -> 0.016, UCC 0.076 -> 0.080, Toxic Spans 0.140 -> 0.135), the same hold rates, and 467
    distinct scores on UCC's 688 held-out comments against 317."""
    starts = np.flatnonzero(np.r_[True, np.diff(ys) != 0])
    ends = np.r_[starts[1:], len(ys)] - 1
    return (xs[starts] + xs[ends]) / 2, ys[starts]


_GRID = np.concatenate([[0.0], 1 / (1 + np.exp(-np.linspace(-9.2, 9.2, 62))), [1.0]])  # raw scores a sigmoid is read at


@dataclass(frozen=True)
class AgreementMap:
    """A finer attribute's fitted map: its knots, what kind of fit made them, whether it kept the civil budget."""

    knots: Knots
    kind: str  # "platt" or "isotonic"
    within_budget: bool = False

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return np.interp(raw, *self.knots)


def fit_agreement(raw: np.ndarray, labels: np.ndarray, civil: np.ndarray) -> AgreementMap | None:
    """One finer attribute's map of "raters agree it is there", of two kinds: Platt scaling of the raw score's logit
    (a sigmoid) and isotonic regression (any increasing shape: steep where the agreed rows and the rest part). Each
    weights the positives up by the largest factor, from the full class ratio down to none, that keeps the fit half's
    civil rows within budget (at most CIVIL_BUDGET of them at 0.7 or above, CIVIL_BUDGET_AT_HALF at 0.5). Of the maps
    within budget, the one that scores the most of the fit half's agreed rows at 0.8 or above serves (the sigmoid on
    a tie); with none within budget, the sigmoid with no weight. None when the fit rows are too few or the score does
    not rise with them."""
    known = ~np.isnan(labels)
    positives = int((labels[known] >= 0.5).sum())
    if positives < 20 or known.sum() - positives < 200:
        return None
    x, y = raw[known], (labels[known] >= 0.5).astype(int)
    weights = np.geomspace(max((len(y) - positives) / positives, 1.0), 1.0, 25)
    sigmoid = _within_budget(_platt, x, y, raw[civil], weights)
    if sigmoid is None:
        return None
    fits = [f for f in (sigmoid, _within_budget(_isotonic, x, y, raw[civil], weights)) if f and f.within_budget]
    return max(fits, key=lambda f: float((f(x[y == 1]) >= 0.8).mean())) if fits else sigmoid


def _platt(x: np.ndarray, y: np.ndarray, weight: float) -> AgreementMap | None:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=100.0).fit(_logit(x).reshape(-1, 1), y, sample_weight=np.where(y == 1, weight, 1.0))
    if model.coef_[0, 0] <= 0:
        return None
    return AgreementMap(strictly_increasing(_GRID, model.predict_proba(_logit(_GRID).reshape(-1, 1))[:, 1]), "platt")


def _isotonic(x: np.ndarray, y: np.ndarray, weight: float) -> AgreementMap | None:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
    iso.fit(x, y, sample_weight=np.where(y == 1, weight, 1.0))
    knots = strictly_increasing(np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_), max_knots=256)
    return AgreementMap(knots, "isotonic")


def _within_budget(
    fitter: Callable[[np.ndarray, np.ndarray, float], AgreementMap | None],
    x: np.ndarray,
    y: np.ndarray,
    civil: np.ndarray,
    weights: np.ndarray,
) -> AgreementMap | None:
    """The fit with the largest weight whose map keeps the civil rows within budget; else the last (unweighted) one,
    not marked within budget; None when a fit does not rise with the label."""
    fitted = None
    for weight in weights:
        fitted = fitter(x, y, float(weight))
        if fitted is None:
            return None
        scores = fitted(civil)
        if (scores >= 0.7).mean() <= CIVIL_BUDGET and (scores >= 0.5).mean() <= CIVIL_BUDGET_AT_HALF:
            return replace(fitted, within_budget=True)
    return fitted


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


def fit(raw: np.ndarray, targets: np.ndarray, fit_mask: np.ndarray, agreement: Agreement) -> Calibration:
    """Toxicity from the panels' shares of the rows in ``fit_mask`` (``share_fit_rows``); each finer attribute from
    rater agreement (the module docstring)."""
    knots = {"toxicity": fit_share(raw, targets, fit_mask)}
    mask = agreement.fit
    for name in ATTRIBUTES[1:]:
        a = ATTRIBUTE_INDEX[name]
        fitted = fit_agreement(agreement.raw[mask, a], agreement.labels[mask, a], agreement.civil[mask])
        if fitted is None:
            log.info("%s: too few agreed rows, or a score that does not rise with them: left uncalibrated", name)
        else:
            log.info("%s: %s map%s", name, fitted.kind, "" if fitted.within_budget else ", over the civil budget")
            knots[name] = fitted.knots
    lifts = tuple(a for a in TOXICITY_LIFTED_BY if a in knots)
    named = {"knots": knots, "toxicity_at_least": [lifts, TOXICITY_LIFT_FROM]}
    # Named by what it maps, so a change of method on the same rows is a new version (the answer cache keys on it)
    version = "cal-" + hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()[:8]
    return Calibration(version, knots, lifts, TOXICITY_LIFT_FROM)


def calibrated_rows(calibration: Calibration, raw: np.ndarray) -> np.ndarray:
    """Rows x attributes of raw scores, calibrated as served (toxicity lifted), unrounded."""
    rows = [list(calibration.mapped(dict(zip(ATTRIBUTES, r, strict=True))).values()) for r in raw]
    return np.array(rows, dtype=float).reshape(-1, len(ATTRIBUTES))


def share_fit_rows(rows: list[ToxicityExample]) -> np.ndarray:
    """The rows toxicity's map is fitted on: the fit half of SHARE_FIT_SOURCES'."""
    return np.array([r.source in SHARE_FIT_SOURCES and fit_half(r.text) for r in rows], dtype=bool)


def measure(
    raw: np.ndarray, calibrated: np.ndarray, targets: np.ndarray, held: np.ndarray, sources: np.ndarray
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a, name in enumerate(ATTRIBUTES):
        known = held & ~np.isnan(targets[:, a])
        if known.sum() < 50:
            continue
        entry: dict[str, Any] = {
            "held_out_rows": int(known.sum()),
            "ece_raw": round(ece(raw[known, a], targets[known, a]), 4),
            "ece_calibrated": round(ece(calibrated[known, a], targets[known, a]), 4),
            "per_source": {},
        }
        for source in PROPORTION_SOURCES:
            mine = known & (sources == source)
            if mine.sum() >= 50:
                entry["per_source"][source] = {
                    "rows": int(mine.sum()),
                    "ece_raw": round(ece(raw[mine, a], targets[mine, a]), 4),
                    "ece_calibrated": round(ece(calibrated[mine, a], targets[mine, a]), 4),
                }
        entry["reliability_raw"] = reliability(raw[known, a], targets[known, a])
        entry["reliability_calibrated"] = reliability(calibrated[known, a], targets[known, a])
        out[name] = entry
    return out


def flagged_fractions(raw: np.ndarray, calibrated: np.ndarray, mask: np.ndarray) -> dict[str, Any]:
    """Share of a comment set whose toxicity reaches each level, raw and calibrated."""
    t = ATTRIBUTE_INDEX["toxicity"]
    return {
        "rows": int(mask.sum()),
        "raw": {str(level): round(float((raw[mask, t] >= level).mean()), 4) for level in FLAG_LEVELS},
        "calibrated": {str(level): round(float((calibrated[mask, t] >= level).mean()), 4) for level in FLAG_LEVELS},
    }


def decisions_moved(raw: np.ndarray, calibration: Calibration) -> dict[str, Any]:
    """The built-in policy on raw scores against its carried-over thresholds on the calibrated scores as served
    (rounded to four places, as ``Calibration.scores`` answers them): how many of the rows get another decision, and
    how many of those a stricter one. Only rounding at a threshold can move one, and only to the stricter side: where
    a map is nearly flat, raw scores just under a threshold round to its calibrated value."""
    raw_policy = Policy.from_settings(PolicySettings(scale="raw"))
    carried = Policy.from_settings(PolicySettings(scale="raw"), calibration)
    order = list(Decision)
    moved = stricter = 0
    for r in raw:
        scores = dict(zip(ATTRIBUTES, r, strict=True))
        before = raw_policy.decide(scores).decision
        after = carried.decide(calibration.scores(scores)).decision
        moved += before != after
        stricter += order.index(after) > order.index(before)
    return {"rows": len(raw), "moved": moved, "stricter": stricter, "review": carried.review, "reject": carried.reject}


def plot(metrics: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in ("toxicity", "insult", "identity_attack") if n in metrics]
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        m = metrics[name]
        ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect")
        for key, colour, label in (
            ("reliability_raw", "#cf222e", "raw"),
            ("reliability_calibrated", "#0969da", "calibrated"),
        ):
            pts = m[key]
            ax.plot(
                [p["mean_score"] for p in pts],
                [p["mean_share"] for p in pts],
                marker="o",
                color=colour,
                label=f"{label} (ECE {m['ece_' + label]:.3f})",
            )
        ax.set_title(f"{name} ({m['held_out_rows']} held-out rows)")
        ax.set_xlabel("score")
        ax.set_ylabel("share of annotators")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Rows where raters agree, per attribute, from the held-out half: a type most of the panel marked (Toxic Spans), a
# comment at least 80 % called toxic, ToxiGen's hateful statements; and the hand-written clear cases.
# (severe toxicity: ``severe_agreement``)
AGREED_SHARE = {"toxicity": 0.8, "severe_toxicity": 0.5, "insult": 0.5, "threat": 0.5, "identity_attack": 0.5}
HOLD_LEVELS = (0.7, 0.8, 0.9)


def clear_positive_rows(sources: Sources) -> dict[str, list[str]]:
    """Per attribute, the held-out texts raters agree carry it (Toxic Spans' shares, ToxiGen's hate label)."""
    out: dict[str, list[str]] = {a: [] for a in AGREED_SHARE}
    for ex in split_toxicity(sources["civil"])[1]:
        if fit_half(ex.text):
            continue
        for attribute, share in AGREED_SHARE.items():
            if attribute == "severe_toxicity":
                agreed = severe_agreement(ex.panel) == 1.0
            else:
                agreed = ex.panel[attribute] >= share and ex.panel["toxicity"] >= 0.5
            if agreed:
                out[attribute].append(ex.text)
    out["identity_attack"] += [ex.text for ex in split_toxicity(sources["toxigen"])[1] if ex.targets[0] == 1.0]
    return out


def civil_rows(sources: Sources) -> list[str]:
    """Held-out civil comments (``is_civil``) of the half no map was fitted on."""
    return [
        ex.text
        for name in AGREEMENT_SOURCES
        for ex in split_toxicity(sources[name])[1]
        if is_civil(ex) and not fit_half(ex.text)
    ]


def hold_rates(
    predictor: Predictor, calibration: Calibration, sources: Sources, scored: dict[str, list[float]]
) -> dict[str, Any]:
    """What a site's Perspective-era threshold keeps doing: per attribute, the share of clear positives scored at or
    above 0.7 / 0.8 / 0.9 (rows where raters agree, and the hand-written clear cases apart), and the share of civil
    comments scored at or above 0.5 and 0.7."""
    from service.training.clear_cases import CLEAR_CASES

    def calibrated(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in scored]  # the written cases: scored here only
        for t, p in zip(missing, predict_all(predictor, missing), strict=True):
            scored[t] = [p.scores[a] for a in ATTRIBUTES]
        return calibrated_rows(calibration, np.array([scored[t] for t in texts]).reshape(-1, len(ATTRIBUTES)))

    def shares(values: np.ndarray, levels: tuple[float, ...]) -> dict[str, float]:
        return {str(level): round(float((values >= level).mean()), 4) for level in levels} if len(values) else {}

    out: dict[str, Any] = {"clear_positives": {}, "civil": {}}
    agreed = clear_positive_rows(sources)
    for attribute in AGREED_SHARE:
        a = ATTRIBUTE_INDEX[attribute]
        entry: dict[str, Any] = {}
        if agreed[attribute]:
            held = calibrated(agreed[attribute])[:, a]
            entry["rows_raters_agree"] = {"rows": len(agreed[attribute]), **shares(held, HOLD_LEVELS)}
        written = list(CLEAR_CASES.get(attribute, ())) or [t for texts in CLEAR_CASES.values() for t in texts]
        entry["written_clear_cases"] = {"rows": len(written), **shares(calibrated(written)[:, a], HOLD_LEVELS)}
        out["clear_positives"][attribute] = entry
    civil = calibrated(civil_rows(sources))
    out["civil"] = {"rows": len(civil)} | {
        attribute: shares(civil[:, ATTRIBUTE_INDEX[attribute]], (0.5, 0.7)) for attribute in ATTRIBUTES
    }
    return out


def calibrate(data: Path, model: Path) -> dict[str, Any]:
    started = time.perf_counter()
    predictor = Predictor(model, stance_prior=model_stance_prior(model))
    examples = toxicity_examples(data)
    rows, targets = proportion_rows(data, examples)
    agreement = agreement_rows(examples)
    texts = list(dict.fromkeys([r.text for r in rows] + agreement.texts))
    log.info("scoring %d dev rows", len(texts))
    scored = {t: [p.scores[a] for a in ATTRIBUTES] for t, p in zip(texts, predict_all(predictor, texts), strict=True)}
    raw = np.array([scored[r.text] for r in rows])
    agreement.raw = np.array([scored[t] for t in agreement.texts])
    fit_mask = np.array([fit_half(r.text) for r in rows])
    sources = np.array([r.source for r in rows])
    calibration = fit(raw, targets, share_fit_rows(rows), agreement)
    calibrated = calibrated_rows(calibration, raw)
    held = ~fit_mask
    metrics: dict[str, Any] = {
        "model": predictor.version,
        "calibration": calibration.version,
        "command": "moderato " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("moderato") else " ".join(sys.argv),
        "data": str(data),
        "split": "dev rows of civil, davidson and ucc (service/training/data.py is_dev), halved by "
        "md5('calibration:' + text): fitted on one half (toxicity's map on davidson's and ucc's rows of it), every "
        "number here from the other",
        "git_commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "attributes": measure(raw, calibrated, targets, held, sources),
        "flagged_toxicity": {
            "ucc (Globe and Mail comments, held-out half)": flagged_fractions(
                raw, calibrated, held & (sources == "ucc")
            ),
            "civil (pre-selected toxic-leaning, held-out half)": flagged_fractions(
                raw, calibrated, held & (sources == "civil")
            ),
            "davidson (tweets, held-out half)": flagged_fractions(raw, calibrated, held & (sources == "davidson")),
        },
        "default_policy_decisions": decisions_moved(raw[held], calibration),
        "hold_rates": hold_rates(predictor, calibration, examples, scored),
    }
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    (model / CALIBRATION_FILE).write_text(calibration.to_json())
    (model / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    plot(metrics["attributes"], model / PLOT_FILE)
    log.info("wrote %s in %.0f s", ", ".join(OUTPUTS), metrics["seconds"])
    return metrics


def refit(data: Path, predictor: Predictor, sources: Sources) -> tuple[Calibration, dict[str, Any]]:
    """A learned version's own calibration (``moderato learn``): the fit ``calibrate`` makes, on ``predictor``'s raw
    scores of ``sources``' dev rows (the caller bounds them), and its ECE on the held-out half."""
    rows, targets = proportion_rows(data, sources)
    agreement = agreement_rows(sources)
    texts = list(dict.fromkeys([r.text for r in rows] + agreement.texts))
    scored = {t: [p.scores[a] for a in ATTRIBUTES] for t, p in zip(texts, predict_all(predictor, texts), strict=True)}
    raw = np.array([scored[r.text] for r in rows]).reshape(-1, len(ATTRIBUTES))
    agreement.raw = np.array([scored[t] for t in agreement.texts]).reshape(-1, len(ATTRIBUTES))
    fit_mask = np.array([fit_half(r.text) for r in rows], dtype=bool)
    calibration = fit(raw, targets, share_fit_rows(rows), agreement)
    calibrated = calibrated_rows(calibration, raw)
    held = ~fit_mask
    a = ATTRIBUTE_INDEX["toxicity"]
    known = held & ~np.isnan(targets[:, a])
    sources_of = np.array([r.source for r in rows])
    report: dict[str, Any] = {
        "calibration": calibration.version,
        "held_out_rows": int(known.sum()),
        "toxicity_ece": round(ece(calibrated[known, a], targets[known, a]), 4) if known.any() else None,
        "toxicity_ece_per_source": {
            source: round(ece(calibrated[mine, a], targets[mine, a]), 4)
            for source in PROPORTION_SOURCES
            for mine in [known & (sources_of == source)]
            if mine.sum() >= 20
        },
    }
    return calibration, report
