"""Stance on the grouped dev splits (service/training/stance_pairs.py), through the serving Predictor: the numbers
each design (late interaction, cross-encoded) is judged by, per set, with the metric the field uses for it.

Polarity is the question the viewpoint-fairness report rests on: does a reply agree or disagree with what it
answers? ``polarity_macro_f1`` asks only that (rows whose gold label is agree or disagree, prediction = the larger
of the two scores); ``agree_disagree_macro_f1`` is stricter: the F1s of agree and disagree in the full prediction,
so a reply called `discuss` counts against them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from service.model.labels import STANCE_INDEX, STANCES
from service.model.predict import Predictor
from service.training.metrics import fnc_score, macro_f1
from service.training.stance_pairs import StancePair, split

AGREE, DISAGREE = STANCE_INDEX["agree"], STANCE_INDEX["disagree"]
COMMENT_SETS = ("debagreement", "subreddit_agreement", "rumoureval2019", "perspectrum", "vast")


def set_metrics(source: str, gold: np.ndarray, logits: np.ndarray) -> dict[str, Any]:
    """The set's own metric, its macro-F1 over the labels it has, and comment polarity (agree vs disagree)."""
    predicted = logits.argmax(1)
    labels = sorted(set(gold.tolist()))
    polar = np.isin(gold, [AGREE, DISAGREE])
    polar_pred = np.where(logits[polar][:, AGREE] >= logits[polar][:, DISAGREE], AGREE, DISAGREE)
    result: dict[str, Any] = {
        "rows": int(len(gold)),
        "macro_f1": round(macro_f1(gold.tolist(), predicted.tolist(), labels), 4),
        # agree/disagree F1s of the full prediction (a `discuss` answer to an agreeing reply counts against it)
        "agree_disagree_macro_f1": round(macro_f1(gold.tolist(), predicted.tolist(), [AGREE, DISAGREE]), 4),
        # polarity when the question is only "agree or disagree?" (rows whose gold is one of the two)
        "polarity_macro_f1": round(macro_f1(gold[polar].tolist(), polar_pred.tolist(), [AGREE, DISAGREE]), 4),
        "confusion": _confusion(gold, predicted),
    }
    if source == "fnc":
        result["fnc_score"] = round(fnc_score(gold.tolist(), predicted.tolist()), 4)
    if source == "arc":
        result["accuracy"] = round(float((gold == predicted).mean()), 4)
    if source == "vast":  # VAST's published metric: pro / con / neutral (discuss and unrelated both neutral)
        neutral = [STANCE_INDEX["discuss"], STANCE_INDEX["unrelated"]]
        g3, p3 = np.where(np.isin(gold, neutral), 2, gold), np.where(np.isin(predicted, neutral), 2, predicted)
        result["pro_con_neutral_macro_f1"] = round(macro_f1(g3.tolist(), p3.tolist(), [AGREE, DISAGREE, 2]), 4)
    return result


def _confusion(gold: np.ndarray, predicted: np.ndarray) -> dict[str, dict[str, int]]:
    return {
        STANCES[g]: {STANCES[p]: int(((gold == g) & (predicted == p)).sum()) for p in range(len(STANCES))}
        for g in sorted(set(gold.tolist()))
    }


def dev_sample(pairs: list[StancePair], limit: int | None, seed: int = 0) -> list[StancePair]:
    dev = split(pairs)[1]
    if limit and len(dev) > limit:
        rng = np.random.default_rng(seed)
        dev = [dev[i] for i in sorted(rng.choice(len(dev), size=limit, replace=False))]
    return dev


def predictor_scores(predictor: Predictor, pairs: list[StancePair]) -> np.ndarray:
    """Stance probabilities for each pair, with the target as the article claim (as the service reads it)."""
    states = {t: predictor.encode_article(t) for t in {p.target for p in pairs}}
    out = np.zeros((len(pairs), len(STANCES)), dtype=np.float32)
    for start in range(0, len(pairs), 256):
        chunk = pairs[start : start + 256]
        predictions = predictor.predict([p.text for p in chunk], [states[p.target] for p in chunk])
        for row, prediction in enumerate(predictions):
            assert prediction.stance is not None
            out[start + row] = [prediction.stance.scores[s] for s in STANCES]
    return out


def evaluate_stance(predictor: Predictor, sets: dict[str, list[StancePair]], limit: int | None) -> dict[str, Any]:
    """Per set: its metrics on (a sample of) its grouped dev split; and the mean over the comment sets."""
    out: dict[str, Any] = {}
    for source, pairs in sets.items():
        dev = dev_sample(pairs, limit)
        out[source] = set_metrics(
            source, np.array([p.label for p in dev]), np.log(predictor_scores(predictor, dev) + 1e-9)
        )
    out["comment_sets_mean_polarity_macro_f1"] = round(
        float(np.mean([out[s]["polarity_macro_f1"] for s in COMMENT_SETS if s in out])), 4
    )
    return out


def evaluate_stance_command(
    data: Any, model: Any, stance_model: Any | None, out: Any, limit: int | None
) -> dict[str, Any]:
    """`moderato evaluate-stance`: both priors' views of one model's stance, written to ``out`` as JSON."""
    import json
    from datetime import UTC, datetime

    from service.config import DEFAULT_STANCE_PRIOR
    from service.system import git_commit, machine
    from service.training.stance_pairs import load_pairs

    sets = load_pairs(data)
    plain = Predictor(model, stance_folder=stance_model)  # the training prior: dev sets' own label mix
    result: dict[str, Any] = {
        "model": plain.version,
        "command": f"moderato evaluate-stance --data DATA --model {model}"
        + (f" --stance-model {stance_model}" if stance_model else "")
        + (f" --limit {limit}" if limit else ""),
        "split": "grouped dev splits of service/training/stance_pairs.py",
        "rows_per_set": limit,
        "commit": git_commit(),
        "machine": machine(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": evaluate_stance(plain, sets, limit),
    }
    # Under an article the service shifts to the article prior: how often are on-topic comments then `unrelated`,
    # and how many off-topic ones (VAST's topics from other articles) are still caught?
    served = Predictor(model, stance_folder=stance_model, stance_prior=list(DEFAULT_STANCE_PRIOR))
    vast = dev_sample(sets["vast"], limit)
    labels = np.array([p.label for p in vast])
    called = predictor_scores(served, vast).argmax(1) == STANCE_INDEX["unrelated"]
    off = labels == STANCE_INDEX["unrelated"]
    result["vast_with_article_prior"] = {
        "on_topic_called_unrelated": round(float(called[~off].mean()), 4),
        "off_topic_caught": round(float(called[off].mean()), 4),
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result
