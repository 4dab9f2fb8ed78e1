"""`moderato calibrate-stance`: fit each stance pass's confidence map (service/model/stance_confidence.py) on the
grouped stance dev splits, choose the confident threshold, and report what it leaves, measured honestly.

Every answer is taken from the serving Predictor as the service builds it (the article prior, the shipped stance
model), so the map is fitted on exactly the probabilities it will read. Per pass:

- **confidence**: isotonic regression of "the served label is right" on the served label's probability, each set
  weighted equally (a big set cannot buy the map);
- **confident threshold**: the lowest value above which, at every higher threshold too, confident agree and
  disagree labels are right at least ``TARGET_PRECISION`` of the time on every comment set (a set judges once it
  has ``MIN_JUDGED`` such labels), on all of dev and on each half alone (the highest of the three);
- **held-out report**: the dev groups (threads, topics, articles) are cut in two; each half is judged by the map
  and threshold fitted on the other, so the numbers quoted are not the fit's own.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.model.calibration import strictly_increasing
from service.model.labels import STANCES, parent_scores
from service.model.predict import Predictor
from service.model.stance_confidence import ConfidenceMap, save_map
from service.training.stance_eval import article_head_dev_sample, cross_pass_dev_sample
from service.training.stance_pairs import StancePair, load_pairs

log = logging.getLogger(__name__)

CRITERION_SETS = ("debagreement", "subreddit_agreement", "vast", "perspectrum", "ibm_claim_stance")
REPORT_SETS = (*CRITERION_SETS, "rumoureval2019")
TARGET_PRECISION = 0.85
POLAR = ("agree", "disagree")
MIN_JUDGED = 10  # confident polar labels a set needs before its precision can veto a threshold (one is noise)
NEVER = 1.01  # a threshold no confidence reaches: the pass is never confident


@dataclass
class Answers:
    """One pass's served answers on one set's dev sample."""

    gold: np.ndarray  # label strings in the pass's label space
    label: np.ndarray
    top: np.ndarray  # the served label's probability
    fold: np.ndarray  # 0 or 1, by the row's group

    @property
    def right(self) -> np.ndarray:
        return (self.gold == self.label).astype(float)


def _fold(group: str) -> int:
    return hashlib.sha256(f"confidence:{group}".encode()).digest()[0] % 2


def served_answers(predictor: Predictor, pairs: list[StancePair]) -> dict[str, Answers]:
    """The article pass and the parent pass on the same pairs (the target read as an article's claim, and as the
    comment replied to)."""
    articles = {t: predictor.encode_article(t) for t in {p.target for p in pairs}}
    parents = {t: predictor.encode_parent(t) for t in {p.target for p in pairs}}
    rows: dict[str, list[tuple[str, str, float]]] = {"article": [], "parent": []}
    for start in range(0, len(pairs), 256):
        chunk = pairs[start : start + 256]
        predictions = predictor.predict(
            [p.text for p in chunk], [articles[p.target] for p in chunk], [parents[p.target] for p in chunk]
        )
        for pair, prediction in zip(chunk, predictions, strict=True):
            gold = STANCES[pair.label]
            assert prediction.stance is not None and prediction.stance_to_parent is not None
            for name, stance, gold_here in (
                ("article", prediction.stance, gold),
                ("parent", prediction.stance_to_parent, _parent_label(gold)),
            ):
                rows[name].append((gold_here, stance.label, stance.scores[stance.label]))
    folds = np.array([_fold(p.group) for p in pairs])
    return {
        name: Answers(
            np.array([r[0] for r in got]), np.array([r[1] for r in got]), np.array([r[2] for r in got]), folds
        )
        for name, got in rows.items()
    }


def held_out_samplers(predictor: Predictor) -> dict[str, Callable[[list[StancePair], int | None], list[StancePair]]]:
    """Each pass is judged on rows its weights did not train on. The article head and the encoder trained on data.py's
    split of VAST, ARC and FNC, the cross encoder's adapters on stance_pairs' (they cut those sets differently), so
    the cross pass is judged on rows both held out (stance_eval.article_head_dev_sample, cross_pass_dev_sample)."""

    def sampler(cross: bool) -> Callable[[list[StancePair], int | None], list[StancePair]]:
        return cross_pass_dev_sample if cross else article_head_dev_sample

    return {"article": sampler(predictor.cross_article_stance), "parent": sampler(predictor.cross is not None)}


def _parent_label(gold: str) -> str:
    scores = parent_scores({s: float(s == gold) for s in STANCES})
    return max(scores, key=scores.__getitem__)


def fit_map(sets: dict[str, Answers], masks: dict[str, np.ndarray]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Knots of P(right | top probability), each set weighing the same."""
    from sklearn.isotonic import IsotonicRegression

    top = np.concatenate([a.top[masks[s]] for s, a in sets.items()])
    right = np.concatenate([a.right[masks[s]] for s, a in sets.items()])
    if len(top) == 0:  # nothing to fit on (a data folder too small to hold out a group): the identity
        return (0.0, 1.0), (0.0, 1.0)
    weight = np.concatenate([np.full(int(masks[s].sum()), 1 / max(1, int(masks[s].sum()))) for s in sets])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(top, right, sample_weight=weight)
    return strictly_increasing(np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_))


def polar_precision(answers: Answers, confidence: np.ndarray, mask: np.ndarray, at: float) -> tuple[int, float | None]:
    """How many confident agree / disagree labels at ``at``, and the share of them that are right."""
    chosen = mask & (confidence >= at) & np.isin(answers.label, POLAR)
    n = int(chosen.sum())
    return n, (float(answers.right[chosen].mean()) if n else None)


def choose_threshold(
    sets: dict[str, Answers], confidence: dict[str, np.ndarray], masks: dict[str, np.ndarray]
) -> float:
    """The lowest threshold from which on every criterion set's confident polar labels are right often enough."""
    candidates = np.unique(np.round(np.concatenate([c[masks[s]] for s, c in confidence.items()]), 4))
    chosen = NEVER
    for at in sorted(candidates, reverse=True):  # walk down while every higher threshold holds too
        for source in CRITERION_SETS:
            if source not in sets:
                continue
            n, precision = polar_precision(sets[source], confidence[source], masks[source], float(at))
            if n >= MIN_JUDGED and precision is not None and precision < TARGET_PRECISION:
                return chosen
        chosen = float(at)
    return chosen


def set_report(answers: Answers, confidence: np.ndarray, confident: np.ndarray) -> dict[str, Any]:
    """One set's numbers, given each row's confidence and whether its label is presented as confident."""
    polar = confident & np.isin(answers.label, POLAR)
    gold_polar = np.isin(answers.gold, POLAR)
    return {
        "rows": len(answers.gold),
        "polar_rows": int(gold_polar.sum()),
        "confident_polar_labels": int(polar.sum()),
        "confident_polar_precision": round(float(answers.right[polar].mean()), 4) if polar.any() else None,
        # of the rows whose gold label is agree or disagree, the share given a confident agree or disagree label
        "polar_coverage": round(float((polar & gold_polar).sum()) / max(1, int(gold_polar.sum())), 4),
        "confident_share": round(float(confident.mean()), 4),
        "accuracy_all": round(float(answers.right.mean()), 4),
        "accuracy_confident": round(float(answers.right[confident].mean()), 4) if confident.any() else None,
        "confidence_ece": round(_ece(confidence, answers.right), 4),
    }


def _ece(predicted: np.ndarray, observed: np.ndarray, bins: int = 10) -> float:
    which = np.minimum((predicted * bins).astype(int), bins - 1)
    gaps = [
        abs(predicted[which == b].mean() - observed[which == b].mean()) * (which == b).mean()
        for b in range(bins)
        if (which == b).any()
    ]
    return float(sum(gaps))


def calibrate_pass(sets: dict[str, Answers], fit_name: str) -> tuple[ConfidenceMap, dict[str, Any]]:
    """The map and threshold fitted on all dev rows, and the report judged across the two halves."""
    confidence_out = {s: np.zeros(len(a.top)) for s, a in sets.items()}
    confident_out = {s: np.zeros(len(a.top), dtype=bool) for s, a in sets.items()}
    thresholds = []
    for fold in (0, 1):
        fit_masks = {s: a.fold != fold for s, a in sets.items()}
        knots = fit_map(sets, fit_masks)
        confidence = {s: np.interp(a.top, *knots) for s, a in sets.items()}
        at = choose_threshold(sets, confidence, fit_masks)
        thresholds.append(at)
        for s, a in sets.items():  # this half judged by the other half's map and threshold
            judged = a.fold == fold
            confidence_out[s][judged] = confidence[s][judged]
            confident_out[s][judged] = confidence[s][judged] >= at
    every = {s: np.ones(len(a.top), dtype=bool) for s, a in sets.items()}
    knots = fit_map(sets, every)
    confidence = {s: np.interp(a.top, *knots) for s, a in sets.items()}
    # the shipped threshold holds on all of dev and on either half alone: a few groups (IBM has six dev topics)
    # can move the lowest passing point a long way, and a label presented as confident should not rest on them
    at = max(choose_threshold(sets, confidence, every), *thresholds)
    return ConfidenceMap(knots[0], knots[1], at, fit_name), {
        "confident_at": at,
        "half_thresholds": thresholds,
        # one map serves every set: it is calibrated over them together; each set's own ECE is in its report
        "held_out_pooled_ece": round(
            _ece(np.concatenate(list(confidence_out.values())), np.concatenate([a.right for a in sets.values()])),
            4,
        ),
        # each half judged by the other half's map and threshold (the shipped threshold is the highest of these and
        # the whole's, so it presents no more labels as confident than these numbers count)
        "held_out": {s: set_report(a, confidence_out[s], confident_out[s]) for s, a in sets.items()},
        "in_sample": {s: set_report(a, confidence[s], confidence[s] >= at) for s, a in sets.items()},
    }


METRICS_FILE = "stance-confidence-metrics.json"


def save_answers(path: Path, answers: dict[str, dict[str, Answers]]) -> None:
    """The served answers, so a change to the fit can be measured again without scoring the dev sets again."""
    arrays = {
        f"{source}/{name}/{field}": getattr(a, field)
        for source, passes in answers.items()
        for name, a in passes.items()
        for field in ("gold", "label", "top", "fold")
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_answers(path: Path) -> dict[str, dict[str, Answers]]:
    with np.load(path) as stored:
        keys = {tuple(k.split("/")[:2]) for k in stored.files}
        return {
            source: {
                name: Answers(*(stored[f"{source}/{name}/{f}"] for f in ("gold", "label", "top", "fold")))
                for s, name in keys
                if s == source
            }
            for source in {s for s, _ in keys}
        }


def calibrate_stance_command(
    data: Path,
    model: Path,
    stance_model: Path | None,
    cross_article: bool,
    limit: int | None,
    answers_file: Path | None = None,
) -> dict[str, Any]:
    """Fit both passes of the Predictor the service builds from these folders; each map and its report are written
    into the folder whose weights that pass runs on."""
    from service.config import article_stance_prior
    from service.system import git_commit, machine

    predictor = Predictor(
        model,
        stance_prior=article_stance_prior(cross_article and stance_model is not None, model),
        stance_folder=stance_model,
        cross_article_stance=cross_article,
    )
    if answers_file is not None and answers_file.exists():
        answers = load_answers(answers_file)
    else:
        pairs = load_pairs(data)
        answers = {}
        samplers = held_out_samplers(predictor)
        for source in REPORT_SETS:
            rows = {name: sample(pairs[source], limit) for name, sample in samplers.items()}
            if not all(rows.values()):  # a set too small to hold out a group: nothing to fit or report
                continue
            article = served_answers(predictor, rows["article"])
            parent = article if rows["parent"] == rows["article"] else served_answers(predictor, rows["parent"])
            answers[source] = {"article": article["article"], "parent": parent["parent"]}
            log.info("%s: %d dev pairs scored", source, len(answers[source]["article"].gold))
        if answers_file is not None:
            save_answers(answers_file, answers)
    owners = {
        "article": stance_model if predictor.cross_article_stance else model,
        "parent": stance_model if predictor.cross is not None else model,
    }
    command = (
        f"moderato calibrate-stance --data DATA --model {model}"
        + (f" --stance-model {stance_model}" if stance_model else "")
        + (" --cross-article" if cross_article else "")
        + (f" --limit {limit}" if limit else "")
    )
    result: dict[str, Any] = {}
    for name, owner in owners.items():
        assert owner is not None
        sets = {source: answers[source][name] for source in REPORT_SETS if source in answers}
        digest = hashlib.sha256(json.dumps({s: a.top.tolist() for s, a in sets.items()}).encode()).hexdigest()[:8]
        confidence_map, report = calibrate_pass(sets, f"{owner.name}:{name}:{digest}")
        save_map(owner, name, confidence_map)
        result[name] = {
            "served_by": predictor.version,
            "folder": owner.name,
            "command": command,
            "split": "grouped dev rows the pass's weights held out (the article head: data.py's split; "
            "the cross encoder: stance_pairs.py's, less VAST, ARC and FNC rows in data.py's training split, which "
            "its encoder read), sampled per set (seed 0); the held-out "
            "report cuts the dev groups in two and judges each half by the other half's fit",
            "rows_per_set": limit,
            "target_precision": TARGET_PRECISION,
            "criterion_sets": list(CRITERION_SETS),
            "commit": git_commit(),
            "machine": machine(),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **report,
        }
        path = owner / METRICS_FILE
        written = json.loads(path.read_text()) if path.exists() else {}
        written[name] = result[name]
        path.write_text(json.dumps(written, indent=1) + "\n")
    return result
