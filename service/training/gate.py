"""The gate a learned candidate must pass before it may serve a site.

1. **Better on the site.** ROC-AUC on the tenant's newest labels, which the candidate never trained on (each label
   read on the attribute it speaks to), against the model the tenant is served now, on the same rows. The gain must
   clear the bootstrap noise: the lower end of a paired bootstrap's 95 % interval of the difference is above zero.
   A site whose labels say nothing learnable (a moderator flipping coins) cannot pass it but by chance (~2.5 %).
   Every rerun judged on the same held-out labels is another draw at that chance, so the k-th candidate judged
   against the same served model on held-out labels that overlap earlier ones' (``GateOptions.tries``) must clear
   a 1 - 0.05/k interval instead (Bonferroni): however often a job reruns on one window of labels, a site with
   nothing learnable passes by chance at most ~2.5 % of the time in all. New labels make a new window.
2. **No worse elsewhere.** On the standard dev sets (service/training/data.py's dev splits, a bounded number of
   rows per source): mean toxicity ROC-AUC over the sources, the identity-bias metric (Jigsaw's final bias metric)
   on each identity set, and character F1 of the spans; none may fall by more than 0.005.

The candidate's calibration is refitted on its own scores (service/training/calibration.py ``refit``) and its
toxicity ECE reported beside the served model's.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from service.model.calibration import Calibration
from service.model.predict import Predictor
from service.moderation.labels import Label
from service.training.calibration import refit
from service.training.data import ToxicityExample, available_toxicity_examples, split_toxicity
from service.training.evaluate import AUC_SOURCES, bias_metrics, predict_all, score_rows, span_metrics
from service.training.identity import EVAL2_NEUTRAL, EVAL2_TOXIC, EVAL_NEUTRAL, EVAL_TOXIC, templated
from service.training.metrics import auc, auc_interval

log = logging.getLogger(__name__)


@dataclass
class GateOptions:
    bootstrap: int = 1000
    max_loss: float = 0.005  # the most any standard dev metric may fall
    dev_limit: int = 300  # dev rows per source for the standard metrics
    calibration_rows: int = 3000  # rows per source the calibration refit reads (before its dev split)
    seed: int = 0
    tries: int = 1  # this candidate's place among those judged on overlapping held-out labels (module docstring)

    def level(self) -> float:
        """The confidence of the interval the gain must clear."""
        return 1.0 - 0.05 / max(1, self.tries)


@dataclass
class Verdict:
    passed: bool
    reasons: list[str]
    report: dict[str, Any]
    calibration: Calibration | None


def held_out_scores(predictor: Predictor, labels: list[Label]) -> np.ndarray:
    """Each label's comment scored on the attribute the label speaks to (raw: AUC does not see a monotone map)."""
    predictions = predict_all(predictor, [label.text for label in labels])
    return np.array(
        [p.scores.get(label.attribute, p.scores["toxicity"]) for p, label in zip(predictions, labels, strict=True)]
    )


def bootstrap_draws(
    gold: np.ndarray, ours: np.ndarray, theirs: np.ndarray, reps: int, seed: int
) -> tuple[float, np.ndarray]:
    """AUC(theirs) - AUC(ours) on the rows, and that difference on each of ``reps`` paired row resamples."""
    diff = float(auc(gold, theirs) - auc(gold, ours))  # type: ignore[operator]
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(reps):
        idx = rng.integers(len(gold), size=len(gold))
        a, b = auc(gold[idx], ours[idx]), auc(gold[idx], theirs[idx])
        if a is not None and b is not None:
            draws.append(b - a)
    return diff, np.array(draws)


def draws_interval(draws: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.percentile(draws, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def paired_bootstrap(
    gold: np.ndarray, ours: np.ndarray, theirs: np.ndarray, reps: int, seed: int, level: float = 0.95
) -> tuple[float, float, float]:
    """AUC(theirs) - AUC(ours) on the rows, and the ``level`` interval of that difference over row resamples."""
    diff, draws = bootstrap_draws(gold, ours, theirs, reps, seed)
    return (diff, *draws_interval(draws, level))


def standard_dev_rows(data: Path, limit: int) -> list[ToxicityExample]:
    return [ex for exs in available_toxicity_examples(data).values() for ex in split_toxicity(exs)[1][:limit]]


def standard_metrics(predictor: Predictor, dev: list[ToxicityExample]) -> dict[str, float]:
    """The numbers the gate holds a candidate to, flat (name -> value), from the rows there are."""
    rows = score_rows(predictor, dev, baseline=False)
    out: dict[str, float] = {}
    aucs = []
    for source in AUC_SOURCES:
        idx = [i for i, ex in enumerate(dev) if ex.source == source and not np.isnan(ex.targets[0])]
        value = auc([int(dev[i].targets[0] >= 0.5) for i in idx], rows.model[idx, 0]) if idx else None
        if value is not None:
            aucs.append(value)
    if aucs:
        out["toxicity_auc_mean"] = float(np.mean(aucs))
    for name, (neutral, toxic) in {
        "templates": (EVAL_NEUTRAL, EVAL_TOXIC),
        "templates_second": (EVAL2_NEUTRAL, EVAL2_TOXIC),
    }.items():
        sentences = templated(neutral, toxic)
        scores = np.array([p.scores["toxicity"] for p in predict_all(predictor, [t.text for t in sentences])])
        final = bias_metrics(np.array([int(t.toxic) for t in sentences]), scores, [(t.subgroup,) for t in sentences])
        if final["final"] is not None:
            out[f"identity_bias_{name}"] = final["final"]
    for source in ("wiki_identity", "toxigen"):
        idx = [i for i, ex in enumerate(dev) if ex.source == source]
        if idx:
            labels = np.array([int(dev[i].targets[0] >= 0.5) for i in idx])
            final = bias_metrics(labels, rows.model[idx, 0], [dev[i].subgroups for i in idx])["final"]
            if final is not None:
                out[f"identity_bias_{source}"] = final
    spans = span_metrics(rows, predictor.config.span_gate)
    for source in ("tsd", "civil"):
        if spans[source]["rows"]:
            out[f"span_f1_{source}"] = spans[source]["char_f1"]
    return {k: round(v, 4) for k, v in out.items()}


def served_metrics(predictor: Predictor, dev: list[ToxicityExample], work: Path, limit: int) -> dict[str, float]:
    """The served model's standard metrics, computed once per version and row bound (they do not change)."""
    path = work / f"standard-{predictor.config.version}-{limit}-{len(dev)}.json"
    if path.exists():
        return dict(json.loads(path.read_text()))
    metrics = standard_metrics(predictor, dev)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics


def gate(
    held: list[Label],
    served: Predictor,
    candidate: Predictor,
    data: Path,
    work: Path,
    opts: GateOptions,
    shipped_calibration: Calibration | None = None,
) -> Verdict:
    """:param shipped_calibration: the maps of the attributes the candidate did not change (a site residual moves
    the toxicity logit alone) or could not be refitted for (too few agreed rows in a bounded refit) are kept."""
    gold = np.array([label.toxic for label in held])
    ours, theirs = held_out_scores(served, held), held_out_scores(candidate, held)
    # a stricter level needs more resamples to read its tail: as many beyond the bound as at 95 %; one set of
    # resamples gives both the reported 95 % interval and the gate's
    level = opts.level()
    diff, draws = bootstrap_draws(gold, ours, theirs, opts.bootstrap * max(1, opts.tries), opts.seed)
    (low95, high95), (low, high) = draws_interval(draws, 0.95), draws_interval(draws, level)
    reasons = []
    site = {
        "held_out_labels": len(held),
        "served_auc": round(float(auc(gold, ours)), 4),  # type: ignore[arg-type]
        "candidate_auc": round(float(auc(gold, theirs)), 4),  # type: ignore[arg-type]
        "served_auc_95_interval": _interval(gold, ours),
        "candidate_auc_95_interval": _interval(gold, theirs),
        "difference": round(diff, 4),
        "difference_95_interval": [round(low95, 4), round(high95, 4)],
        "tries": opts.tries,
        "gate_level": round(level, 4),
        "difference_gate_interval": [round(low, 4), round(high, 4)],
    }
    judged = f"{100 * level:.4g}% [{low:.3f}, {high:.3f}]" + (f", try {opts.tries}" if opts.tries > 1 else "")
    if low > 0:
        reasons.append(f"site AUC {site['served_auc']} -> {site['candidate_auc']} (+{diff:.3f}, {judged})")
    else:
        reasons.append(f"site AUC gain {diff:+.3f} is inside the bootstrap noise ({judged})")
    dev = standard_dev_rows(data, opts.dev_limit)
    before = served_metrics(served, dev, work, opts.dev_limit)
    after = standard_metrics(candidate, dev)
    standard = {
        name: {"served": before[name], "candidate": after[name], "change": round(after[name] - before[name], 4)}
        for name in before
        if name in after
    }
    worse = [name for name, row in standard.items() if row["change"] < -opts.max_loss]
    reasons += [f"{name} fell {standard[name]['change']:+.4f} (the most allowed: -{opts.max_loss})" for name in worse]
    calibration, calibration_report = _refit(data, candidate, opts.calibration_rows, shipped_calibration)
    report = {
        "site": site,
        "standard": standard,
        "standard_rows": len(dev),
        "calibration": calibration_report,
        "rule": f"site AUC gain's {100 * level:.4g}% bootstrap interval above 0 (95% on a first try, 1 - 0.05/k on "
        f"the k-th on overlapping held-out labels; {opts.bootstrap * max(1, opts.tries)} paired resamples); no "
        f"standard metric down more than {opts.max_loss}",
    }
    return Verdict(low > 0 and not worse, reasons, report, calibration)


def _refit(
    data: Path, candidate: Predictor, rows: int, shipped: Calibration | None
) -> tuple[Calibration | None, dict[str, Any]]:
    sources = {name: exs[:rows] for name, exs in available_toxicity_examples(data).items()}
    try:
        fitted, report = refit(data, candidate, sources)
    except ValueError as exc:  # no rows with annotator shares to fit toxicity on
        log.warning("no calibration refitted (%s): the candidate keeps the shipped maps", exc)
        return shipped, {"calibration": shipped.version if shipped else None, "why": str(exc)}
    if shipped is None:
        return fitted, report
    changed = ("toxicity",) if candidate.config.toxicity_residual else tuple(fitted.knots)
    knots = {**shipped.knots, **{a: k for a, k in fitted.knots.items() if a in changed}}
    report["refitted"] = sorted(a for a in knots if a in changed)
    return replace(fitted, knots=knots), report  # the lift of toxicity kept as fitted


def _interval(gold: np.ndarray, scores: np.ndarray) -> list[float] | None:
    found = auc_interval(gold.tolist(), scores.tolist())
    return None if found is None else [round(found[0], 4), round(found[1], 4)]
