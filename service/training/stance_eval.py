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
        "polarity_macro_f1": (
            round(macro_f1(gold[polar].tolist(), polar_pred.tolist(), [AGREE, DISAGREE]), 4) if polar.any() else None
        ),
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
    return _sample(split(pairs)[1], limit, seed)


def article_head_dev_sample(pairs: list[StancePair], limit: int | None, seed: int = 0) -> list[StancePair]:
    """Dev rows for the article head. It and the encoder under it trained on VAST, ARC and FNC cut by
    service/training/data.py's split, not by stance_pairs' (the cross encoder's): about 85 % of stance_pairs' dev
    rows of those sets are the head's training rows, and read the head as better than it is (ARC's on-topic posts
    called unrelated: 3 % there, 12 % on the rows the head held out). Other sets the head never read."""
    if pairs and pairs[0].source in OLD_SPLIT_SETS:
        return _sample([p for p in pairs if unseen_by_v4(p)], limit, seed)
    return dev_sample(pairs, limit, seed)


def cross_pass_dev_sample(pairs: list[StancePair], limit: int | None, seed: int = 0) -> list[StancePair]:
    """Dev rows for the cross-encoded pass: stance_pairs' grouped dev rows (its adapters' split), less the VAST, ARC
    and FNC rows the encoder under the adapters trained on (moderato-v4's, whose stance training cut those sets by
    data.py's split): what neither stage of its weights has read."""
    dev = [p for p in split(pairs)[1] if p.source not in OLD_SPLIT_SETS or unseen_by_v4(p)]
    return _sample(dev, limit, seed)


def _sample(dev: list[StancePair], limit: int | None, seed: int) -> list[StancePair]:
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


def set_log_probs(predictor: Predictor, sets: dict[str, list[StancePair]], limit: int | None) -> dict[str, Any]:
    """Per set: its held-out sample's gold labels and the predictor's log-probabilities (under the training prior).
    The pass the predictor reads the target with is judged on rows none of its weights trained on."""
    sample = cross_pass_dev_sample if predictor.cross is not None else article_head_dev_sample
    out = {}
    for source, pairs in sets.items():
        dev = sample(pairs, limit)
        if not dev:  # a set too small to hold out a group
            continue
        out[source] = (np.array([p.label for p in dev]), np.log(predictor_scores(predictor, dev) + 1e-9))
    return out


def evaluate_stance(scored: dict[str, Any], offsets: np.ndarray) -> dict[str, Any]:
    """Per set: its metrics with these per-class logit offsets; and the mean polarity over the comment sets."""
    out: dict[str, Any] = {source: set_metrics(source, gold, logp + offsets) for source, (gold, logp) in scored.items()}
    for metric in ("polarity_macro_f1", "macro_f1"):
        values = [out[s][metric] for s in COMMENT_SETS if s in out and out[s][metric] is not None]
        out[f"comment_sets_mean_{metric}"] = round(float(np.mean(values)), 4) if values else None
    return out


def unrelated_rates(gold: np.ndarray, logp: np.ndarray, shift: np.ndarray) -> dict[str, float]:
    """VAST under the article prior the service uses: on-topic comments called unrelated, off-topic ones caught."""
    called = (logp + shift).argmax(1) == STANCE_INDEX["unrelated"]
    off = gold == STANCE_INDEX["unrelated"]
    return {
        "on_topic_called_unrelated": round(float(called[~off].mean()), 4),
        "off_topic_caught": round(float(called[off].mean()), 4),
    }


def choose_offsets(scored: dict[str, Any], shift: np.ndarray, max_unrelated: float = 0.05) -> np.ndarray:
    """Per-class logit offsets (agree fixed at 0) that maximise the comment sets' mean macro-F1, on the dev splits,
    while on-topic VAST comments under the article prior stay at most ``max_unrelated`` unrelated."""
    best, best_score = np.zeros(len(STANCES)), -1.0
    gold_vast, logp_vast = scored["vast"]
    for disagree in np.arange(-1.0, 1.01, 0.25):
        for discuss in np.arange(-2.0, 2.01, 0.25):
            for unrelated in np.arange(-3.0, 1.01, 0.5):
                offsets = np.array([0.0, disagree, discuss, unrelated])
                if unrelated_rates(gold_vast, logp_vast + offsets, shift)["on_topic_called_unrelated"] > max_unrelated:
                    continue
                score = float(
                    np.mean(
                        [
                            macro_f1(gold.tolist(), (logp + offsets).argmax(1).tolist(), sorted(set(gold.tolist())))
                            for source, (gold, logp) in scored.items()
                            if source in COMMENT_SETS
                        ]
                    )
                )
                if score > best_score:
                    best, best_score = offsets, score
    return best


OLD_SPLIT_SETS = ("vast", "arc", "fnc")  # the sets moderato-v2..v4 trained on, split the old way


def unseen_by_v4(pair: StancePair) -> bool:
    """Whether moderato-v4's stance training (service/training/data.py's old split: FNC by body, ARC by claim, VAST
    by article) held this pair out: on these rows it competes with a model trained on the new splits fairly."""
    from service.training.data import is_dev as old_is_dev

    headline, _, body = pair.group.partition("\x00")
    key = {"fnc": body, "arc": headline, "vast": pair.group}[pair.source]
    return old_is_dev(f"{pair.source}:{key}")


def evaluate_stance_command(
    data: Any, model: Any, stance_model: Any | None, out: Any, limit: int | None, tune: bool = False
) -> dict[str, Any]:
    """`moderato evaluate-stance`: one model's stance on every grouped dev set, under the training prior and (VAST)
    under the article prior; with ``tune``, the per-class offsets chosen on dev are written into the stance model
    and its numbers with them reported beside the untuned ones."""
    import json
    from datetime import UTC, datetime

    from service.config import article_stance_prior
    from service.system import git_commit, machine
    from service.training.stance_pairs import load_pairs

    # no prior shift: the dev sets' own label mix; a stance model is judged on its own pass, targets as articles
    predictor = Predictor(model, stance_folder=stance_model, cross_article_stance=stance_model is not None)
    train_prior = predictor.config.stance_train_prior if predictor.cross is None else predictor.cross.config.train_prior
    prior = np.array(article_stance_prior(predictor.cross is not None, model))
    shift = np.log(prior / prior.sum()) - np.log(np.array(train_prior))
    current = np.zeros(len(STANCES)) if predictor.cross is None else predictor.cross.offsets.numpy()
    sets = load_pairs(data)
    scored = set_log_probs(predictor, sets, limit)
    scored = {k: (g, lp - current) for k, (g, lp) in scored.items()}  # the untuned view: offsets taken back out
    result: dict[str, Any] = {
        "model": predictor.version,
        "command": f"moderato evaluate-stance --data DATA --model {model}"
        + (f" --stance-model {stance_model}" if stance_model else "")
        + (f" --limit {limit}" if limit else "")
        + (" --tune" if tune else ""),
        "split": "grouped dev splits of service/training/stance_pairs.py, less the VAST, ARC and FNC rows the pass's "
        "encoder trained on (stance_eval.cross_pass_dev_sample; the article head: article_head_dev_sample), sampled "
        "per set (seed 0)",
        "rows_per_set": limit,
        "commit": git_commit(),
        "machine": machine(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "sets": evaluate_stance(scored, np.zeros(len(STANCES))),
    }
    if "vast" in scored:
        result["vast_with_article_prior"] = unrelated_rates(scored["vast"][0], scored["vast"][1], shift)
    if predictor.cross is not None:  # its per-class offsets: the shipped ones, or with ``tune`` new ones from dev
        offsets = current
        if tune:
            offsets = choose_offsets(scored, shift)
            result["offsets_chosen_on_dev"] = {s: round(float(o), 2) for s, o in zip(STANCES, offsets, strict=True)}
            _write_offsets(stance_model, offsets)
        result["sets_with_offsets"] = evaluate_stance(scored, offsets)
        if "vast" in scored:
            gold, logp = scored["vast"]
            result["vast_with_article_prior_and_offsets"] = unrelated_rates(gold, logp + offsets, shift)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _write_offsets(folder: Any, offsets: np.ndarray) -> None:
    import json

    from service.model.cross_stance import CONFIG_FILE

    path = folder / CONFIG_FILE
    config = json.loads(path.read_text())
    config["logit_offsets"] = [round(float(o), 4) for o in offsets]
    path.write_text(json.dumps(config, indent=2) + "\n")
