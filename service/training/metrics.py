"""The field's metrics, as pure functions: ROC-AUC, SemEval-2021 span F1, FNC-1 score, Jigsaw bias AUCs."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score

from service.model.labels import STANCE_INDEX

MIN_CLASS_ROWS = 5  # an AUC over fewer positives or negatives than this is noise; it is reported as None


def _enough_of_each_class(y: np.ndarray) -> bool:
    positives = int(y.sum())
    return positives >= MIN_CLASS_ROWS and len(y) - positives >= MIN_CLASS_ROWS


def auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    y = np.asarray(labels)
    return float(roc_auc_score(y, np.asarray(scores))) if _enough_of_each_class(y) else None


def auc_interval(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, reps: int = 1000, seed: int = 0
) -> tuple[float, float] | None:
    """A 95 % bootstrap interval of the ROC-AUC (rows resampled with replacement, percentiles 2.5 and 97.5): with a
    few dozen positives the interval, not the point, says whether two models or a model and a target differ."""
    y, s = np.asarray(labels), np.asarray(scores)
    if not _enough_of_each_class(y):
        return None
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(reps):
        pick = rng.integers(len(y), size=len(y))
        if 0 < y[pick].sum() < len(pick):
            values.append(roc_auc_score(y[pick], s[pick]))
    low, high = np.percentile(values, [2.5, 97.5])
    return round(float(low), 4), round(float(high), 4)


def split_half_agreement(panels: Sequence[int], toxic_votes: Sequence[int], reps: int = 20, seed: int = 0) -> float:
    """How well annotators predict each other: each comment's panel is split at random into a smaller and a larger
    half; the ROC-AUC of the smaller half's toxic share against the larger half's majority, averaged over ``reps``
    splits. Where this is low, the majority label is mostly annotator disagreement, and so is any model's AUC."""
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(reps):
        share, label = [], []
        for n, k in zip(panels, toxic_votes, strict=True):
            if n < 2:
                continue
            votes = rng.permutation(np.r_[np.ones(k), np.zeros(n - k)])
            share.append(votes[: n // 2].mean())
            label.append(int(votes[n // 2 :].mean() >= 0.5))
        scores.append(roc_auc_score(label, share))
    return float(np.mean(scores))


def span_f1(predicted: set[int], gold: set[int]) -> float:
    """SemEval-2021 Task 5 per-post character F1 (1.0 when both are empty, 0.0 when only one is)."""
    if not predicted and not gold:
        return 1.0
    if not predicted or not gold:
        return 0.0
    overlap = len(predicted & gold)
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(predicted), overlap / len(gold)
    return 2 * precision * recall / (precision + recall)


def fnc_score(gold: Sequence[int], predicted: Sequence[int]) -> float:
    """FNC-1 weighted score as a share of the best possible: +0.25 for a correct related/unrelated call, +0.75 more
    for the right label of a related pair."""
    unrelated = STANCE_INDEX["unrelated"]
    score = best = 0.0
    for g, p in zip(gold, predicted, strict=True):
        best += 0.25 if g == unrelated else 1.0
        if (g == unrelated) == (p == unrelated):
            score += 0.25
            if g != unrelated and g == p:
                score += 0.75
    return score / best if best else 0.0


def macro_f1(gold: Sequence[int], predicted: Sequence[int], labels: Sequence[int]) -> float:
    return float(f1_score(gold, predicted, labels=list(labels), average="macro", zero_division=0))


def bias_aucs(labels: np.ndarray, scores: np.ndarray, in_group: np.ndarray) -> dict[str, float | None]:
    """Jigsaw Unintended Bias AUCs for one subgroup.

    subgroup: within the subgroup; BPSN: subgroup negatives vs background positives (false alarms on mentions);
    BNSP: subgroup positives vs background negatives (missed abuse of the group).
    """
    bpsn = (in_group & (labels == 0)) | (~in_group & (labels == 1))
    bnsp = (in_group & (labels == 1)) | (~in_group & (labels == 0))
    return {
        "subgroup_auc": auc(labels[in_group], scores[in_group]),
        "bpsn_auc": auc(labels[bpsn], scores[bpsn]),
        "bnsp_auc": auc(labels[bnsp], scores[bnsp]),
    }


def power_mean(values: Sequence[float], p: float = -5.0) -> float:
    array = np.asarray(values, dtype=np.float64)
    if p < 0 and (array <= 0).any():
        return 0.0  # the limit: a negative power mean is pulled to its smallest value, here none at all
    return float(np.power(np.mean(np.power(array, p)), 1 / p))


def final_bias_metric(
    overall_auc: float, per_group: dict[str, dict[str, float | None]], weight: float = 0.25
) -> float | None:
    """Jigsaw's final metric: a quarter overall AUC, three quarters the power means (p=-5) of the three bias AUCs
    over the subgroups where each is defined."""
    parts = [weight * overall_auc]
    for name in ("subgroup_auc", "bpsn_auc", "bnsp_auc"):
        values = [g[name] for g in per_group.values() if g[name] is not None]
        if not values:
            return None
        parts.append(weight * power_mean(values))  # type: ignore[arg-type]
    return float(sum(parts))
