"""``moderato evaluate``: every metric of the model card, on the dev splits, in one run, with the lexical baseline
(alt-profanity-check) scored on the same rows. Writes ``metrics.json``."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.config import model_stance_prior
from service.model.labels import ATTRIBUTES, STANCE_INDEX, STANCES
from service.model.predict import Prediction, Predictor, extract_spans
from service.system import git_commit, machine
from service.training.data import (
    StanceExample,
    ToxicityExample,
    normalise,
    split_stance,
    split_toxicity,
    stance_examples,
    toxicity_examples,
    ucc_labels,
)
from service.training.identity import EVAL2_NEUTRAL, EVAL2_TOXIC, EVAL_NEUTRAL, EVAL_TOXIC, templated
from service.training.metrics import (
    auc,
    auc_interval,
    bias_aucs,
    final_bias_metric,
    fnc_score,
    macro_f1,
    span_f1,
    split_half_agreement,
)
from service.training.threats import evaluation_threats

log = logging.getLogger(__name__)

# Sources whose dev rows have both toxic and non-toxic comments: the per-source ROC-AUC table.
AUC_SOURCES = ("civil", "olid", "davidson", "ucc", "wiki_identity", "toxigen")
CHUNK = 512  # comments per predict call, bounding memory for the stance states kept per comment


@dataclass
class ScoredRows:
    """Toxicity dev rows with model and baseline scores."""

    examples: list[ToxicityExample]
    model: np.ndarray  # (rows, attributes)
    baseline: np.ndarray  # (rows,)
    spans: list[set[int]]


def predict_all(predictor: Predictor, texts: list[str], articles: list[Any] | None = None) -> list[Prediction]:
    out: list[Prediction] = []
    for start in range(0, len(texts), CHUNK):
        arts = None if articles is None else articles[start : start + CHUNK]
        out += predictor.predict(texts[start : start + CHUNK], arts)
    return out


def score_rows(predictor: Predictor, examples: list[ToxicityExample], baseline: bool = True) -> ScoredRows:
    """The model's scores and every span it finds (gate 0), and the lexical baseline's scores (zeros without)."""
    texts = [ex.text for ex in examples]
    shipped_gate = predictor.config.span_gate
    predictor.config.span_gate = 0.0  # keep every span; span_metrics applies each gate it reports
    try:
        preds = predict_all(predictor, texts)
    finally:
        predictor.config.span_gate = shipped_gate
    model = np.array([[p.scores[a] for a in ATTRIBUTES] for p in preds])
    spans = [{i for s in p.spans for i in range(s.start, s.end)} for p in preds]
    if not baseline:
        return ScoredRows(examples, model, np.zeros(len(texts)), spans)
    from profanity_check import predict_prob

    return ScoredRows(examples, model, np.asarray(predict_prob(texts)), spans)


def toxicity_metrics(rows: ScoredRows) -> dict[str, Any]:
    """ROC-AUC per source and attribute; the baseline's AUC on the same rows; the mean over sources of toxicity."""
    per_source: dict[str, Any] = {}
    for source in AUC_SOURCES:
        idx = [i for i, ex in enumerate(rows.examples) if ex.source == source]
        table: dict[str, Any] = {}
        for a, attribute in enumerate(ATTRIBUTES):
            known = [i for i in idx if not np.isnan(rows.examples[i].targets[a])]
            labels = [int(rows.examples[i].targets[a] >= 0.5) for i in known]
            model_auc = auc(labels, rows.model[known, a])
            if model_auc is not None:
                table[attribute] = {
                    "auc": round(model_auc, 4),
                    "baseline_auc": _round(auc(labels, rows.baseline[known])),
                    "rows": len(known),
                    "positives": sum(labels),
                }
        per_source[source] = table
    tox = {s: t["toxicity"]["auc"] for s, t in per_source.items() if "toxicity" in t}
    base = {s: t["toxicity"]["baseline_auc"] for s, t in per_source.items() if "toxicity" in t}
    civil = [i for i, ex in enumerate(rows.examples) if ex.source == "arc_civil"]
    return {
        "per_source": per_source,
        "mean_toxicity_auc": round(float(np.mean(list(tox.values()))), 4),
        "min_toxicity_auc": round(min(tox.values()), 4),
        "baseline_mean_toxicity_auc": round(float(np.mean([b for b in base.values() if b is not None])), 4),
        "arc_civil_flag_rate": round(float((rows.model[civil, 0] >= 0.5).mean()), 4) if civil else None,
        "civil_annotator_split_half_auc": _civil_agreement(rows.examples),
    }


UCC_ATTRIBUTES = ("hostile", "antagonize", "condescending", "dismissive", "generalisation_unfair", "sarcastic")


def ucc_attribute_aucs(data: Path, rows: ScoredRows) -> dict[str, Any]:
    """On UCC's dev rows: ROC-AUC of the toxicity score against each of UCC's own labels (news comments under
    another site's articles: hostile and antagonizing are what a moderator would remove)."""
    labels = ucc_labels(data)
    idx = [i for i, ex in enumerate(rows.examples) if ex.source == "ucc" and normalise(ex.text) in labels]
    ucc_rows = [labels[normalise(rows.examples[i].text)] for i in idx]
    scores = rows.model[idx, 0]
    out: dict[str, Any] = {}
    for name in UCC_ATTRIBUTES:
        gold = [int(row[name] == "1") for row in ucc_rows]
        interval = auc_interval(gold, scores)
        out[name] = {
            "auc": _round(auc(gold, scores)),
            "auc_95_interval": list(interval) if interval else None,
            "positives": sum(gold),
            "rows": len(idx),
        }
    return out


def span_metrics(rows: ScoredRows, shipped_gate: float) -> dict[str, Any]:
    """SemEval-2021 character F1 on the dev rows of each span source, for the shipped gate and a sweep of gates
    (spans reported only when some attribute scores at least the gate), and how many civil ARC posts get spans."""
    out: dict[str, Any] = {"shipped_gate": shipped_gate, "sweep": {}}
    worst = rows.model.max(axis=1)
    for gate in sorted({0.0, 0.1, 0.2, 0.3, 0.5, shipped_gate}):
        row: dict[str, Any] = {}
        for source in ("tsd", "civil"):
            idx = [i for i, ex in enumerate(rows.examples) if ex.source == source and ex.spans is not None]
            f1 = [
                span_f1(
                    rows.spans[i] if worst[i] >= gate else set(),
                    {c for s, e, _ in rows.examples[i].spans or [] for c in range(s, e)},
                )
                for i in idx
            ]
            row[source] = round(float(np.mean(f1)), 4)
        civil = [i for i, ex in enumerate(rows.examples) if ex.source == "arc_civil"]
        row["arc_civil_posts_with_spans"] = (
            round(float(np.mean([bool(rows.spans[i]) and worst[i] >= gate for i in civil])), 4) if civil else None
        )
        out["sweep"][f"{gate:.2f}"] = row
    shipped = out["sweep"][f"{shipped_gate:.2f}"]
    for source in ("tsd", "civil"):
        out[source] = {
            "char_f1": shipped[source],
            "rows": sum(1 for ex in rows.examples if ex.source == source and ex.spans is not None),
        }
    return out


SPAN_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def span_threshold_sweep(predictor: Predictor, rows: ScoredRows) -> dict[str, Any]:
    """Character F1 at the shipped gate for other per-token thresholds (the span head's training weighs toxic
    tokens double, so 0.5 is not necessarily its best cut). The shipped threshold is the model config's. One pass:
    spans are cut at each threshold from the same token logits."""
    shipped, gate = predictor.config.span_threshold, predictor.config.span_gate
    idx = [i for i, ex in enumerate(rows.examples) if ex.source in ("tsd", "civil") and ex.spans is not None]
    texts = [rows.examples[i].text for i in idx]
    gold = [{c for s, e, _ in rows.examples[i].spans or [] for c in range(s, e)} for i in idx]
    read = [r for start in range(0, len(texts), CHUNK) for r in predictor.span_tokens(texts[start : start + CHUNK])]
    sweep: dict[str, Any] = {}
    for threshold in sorted({*SPAN_THRESHOLDS, shipped}):
        f1 = [
            span_f1(
                {c for sp in extract_spans(text, tokens, threshold) for c in range(sp.start, sp.end)}
                if worst >= gate
                else set(),
                g,
            )
            for text, (worst, tokens), g in zip(texts, read, gold, strict=True)
        ]
        sweep[f"{threshold:.2f}"] = {
            source: round(
                float(np.mean([f for f, i in zip(f1, idx, strict=True) if rows.examples[i].source == source])), 4
            )
            for source in ("tsd", "civil")
        }
    return {"shipped_threshold": shipped, "sweep": sweep}


def bias_metrics(labels: np.ndarray, scores: np.ndarray, groups: list[tuple[str, ...]]) -> dict[str, Any]:
    names = sorted({g for gs in groups for g in gs})
    per_group = {g: bias_aucs(labels, scores, np.array([g in gs for gs in groups])) for g in names}
    overall = auc(labels, scores)
    final = final_bias_metric(overall, per_group) if overall is not None else None
    return {
        "overall_auc": _round(overall),
        "final": _round(final),
        "per_group": {g: {k: _round(v) for k, v in m.items()} for g, m in per_group.items()},
    }


def identity_sets(predictor: Predictor, rows: ScoredRows) -> dict[str, Any]:
    """Jigsaw bias metrics (model and baseline) on templated sentences and on the identity sets' dev rows."""
    from profanity_check import predict_prob

    sets: dict[str, Any] = {}
    for name, (neutral, toxic) in {
        "templates": (EVAL_NEUTRAL, EVAL_TOXIC),
        "templates_second": (EVAL2_NEUTRAL, EVAL2_TOXIC),  # worded apart from the first and from training
    }.items():
        templates = templated(neutral, toxic)
        texts = [t.text for t in templates]
        model = np.array([p.scores["toxicity"] for p in predict_all(predictor, texts)])
        sets[name] = (
            np.array([int(t.toxic) for t in templates]),
            model,
            np.asarray(predict_prob(texts)),
            [(t.subgroup,) for t in templates],
        )
    for source in ("wiki_identity", "toxigen"):
        idx = [i for i, ex in enumerate(rows.examples) if ex.source == source]
        sets[source] = (
            np.array([int(rows.examples[i].targets[0] >= 0.5) for i in idx]),
            rows.model[idx, 0],
            rows.baseline[idx],
            [rows.examples[i].subgroups for i in idx],
        )
    return {
        name: {"model": bias_metrics(y, m, g), "baseline": bias_metrics(y, b, g)} for name, (y, m, b, g) in sets.items()
    }


def threat_metrics(predictor: Predictor) -> dict[str, Any]:
    """Held-out threat templates against harmless sentences in the same frames and violent-word look-alikes:
    ROC-AUC of the threat and toxicity scores (and the baseline), mean scores per side, and the threat-span F1."""
    from profanity_check import predict_prob

    sentences = evaluation_threats()
    texts = [s.text for s in sentences]
    labels = np.array([int(s.threat) for s in sentences])
    preds = predict_all(predictor, texts)
    threat = np.array([p.scores["threat"] for p in preds])
    toxicity = np.array([p.scores["toxicity"] for p in preds])
    spans = [
        span_f1(
            {c for sp in p.spans if sp.attribute == "threat" for c in range(sp.start, sp.end)},
            set(range(*s.span)) if s.span else set(),
        )
        for p, s in zip(preds, sentences, strict=True)
        if s.threat
    ]
    return {
        "rows": len(sentences),
        "threats": int(labels.sum()),
        "threat_auc": _round(auc(labels, threat)),
        "toxicity_auc": _round(auc(labels, toxicity)),
        "baseline_auc": _round(auc(labels, np.asarray(predict_prob(texts)))),
        "mean_threat_score": {
            "threats": _round(float(threat[labels == 1].mean())),
            "others": _round(float(threat[labels == 0].mean())),
        },
        "threat_span_char_f1": _round(float(np.mean(spans))),
    }


def stance_metrics(predictor: Predictor, dev: list[StanceExample]) -> dict[str, Any]:
    """Accuracy, macro-F1 and FNC-1 score per source; VAST's 3-class macro-F1; and how often on-topic comments are
    called unrelated, under the training prior and under the article prior the service uses."""
    claims = {ex.extra.get("headline", ex.claim) for ex in dev}
    states = {c: predictor.encode_article(c) for c in claims}
    out: dict[str, Any] = {}
    prior_shift = predictor.stance_shift
    for source in sorted({ex.source for ex in dev}):
        rows = [ex for ex in dev if ex.source == source]
        arts = [states[ex.extra.get("headline", ex.claim)] for ex in rows]
        gold = [ex.label for ex in rows]
        predictor.stance_shift = prior_shift * 0  # the dev sets' own label mix is the training one
        preds = _labels(predict_all(predictor, [ex.text for ex in rows], arts))
        predictor.stance_shift = prior_shift
        deployed = _labels(predict_all(predictor, [ex.text for ex in rows], arts))
        out[source] = _stance_table(gold, preds, deployed)
    return out


def _labels(predictions: list[Prediction]) -> list[int]:
    """Predicted stance indices (every prediction here had an article, so a stance)."""
    return [STANCE_INDEX[p.stance.label] if p.stance else STANCE_INDEX["unrelated"] for p in predictions]


def _stance_table(gold: list[int], preds: list[int], deployed: list[int]) -> dict[str, Any]:
    unrelated = STANCE_INDEX["unrelated"]
    on_topic = [i for i, g in enumerate(gold) if g != unrelated]
    neutral = {STANCE_INDEX["discuss"], unrelated}
    three = [2 if g in neutral else g for g in gold], [2 if p in neutral else p for p in preds]
    return {
        "rows": len(gold),
        "accuracy": round(float(np.mean(np.array(gold) == np.array(preds))), 4),
        "macro_f1": round(macro_f1(gold, preds, range(len(STANCES))), 4),
        "fnc_score": round(fnc_score(gold, preds), 4),
        "macro_f1_pro_con_neutral": round(macro_f1(three[0], three[1], [0, 1, 2]), 4),
        "on_topic_called_unrelated": round(float(np.mean([preds[i] == unrelated for i in on_topic])), 4),
        "on_topic_called_unrelated_with_article_prior": round(
            float(np.mean([deployed[i] == unrelated for i in on_topic])), 4
        ),
        "confusion": np.bincount(np.array(gold) * len(STANCES) + np.array(preds), minlength=len(STANCES) ** 2)
        .reshape(len(STANCES), -1)
        .tolist(),
    }


def fidelity(folder: Path, rows: ScoredRows, bf16: bool) -> dict[str, Any]:
    """The same toxicity rows in fp32: does bf16 change the scores or the AUCs?"""
    fp32 = Predictor(folder, bf16=False)
    ref = np.array([[p.scores[a] for a in ATTRIBUTES] for p in predict_all(fp32, [ex.text for ex in rows.examples])])
    ref_rows = ScoredRows(rows.examples, ref, rows.baseline, rows.spans)
    return {
        "bf16_used": bf16,
        "max_abs_score_diff": round(float(np.abs(ref - rows.model).max()), 4),
        "mean_abs_score_diff": round(float(np.abs(ref - rows.model).mean()), 5),
        "fp32_mean_toxicity_auc": toxicity_metrics(ref_rows)["mean_toxicity_auc"],
    }


def evaluate(
    data: Path, model: Path, out: Path | None = None, limit: int | None = None, toxicity_only: bool = False
) -> dict[str, Any]:
    """Every metric of the model card on the dev splits; ``toxicity_only`` leaves out stance and the fp32 fidelity
    pass (a candidate toxicity model whose stance is not what is being decided)."""
    started = time.perf_counter()
    predictor = Predictor(model, stance_prior=model_stance_prior(model))
    tox_dev = [ex for exs in toxicity_examples(data).values() for ex in split_toxicity(exs)[1][:limit]]
    stance_sets = {} if toxicity_only else stance_examples(data)
    st_dev = [ex for exs in stance_sets.values() for ex in split_stance(exs)[1][:limit]]
    log.info("evaluating %s on %d toxicity and %d stance dev rows", predictor.version, len(tox_dev), len(st_dev))
    rows = score_rows(predictor, tox_dev)
    result: dict[str, Any] = {
        "model": predictor.version,
        "command": "moderato " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("moderato") else " ".join(sys.argv),
        "data": str(data),
        "split": "dev splits of service/model/data.py (is_dev: md5 buckets)",
        "limit_per_source": limit,
        "git_commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "toxicity": {**toxicity_metrics(rows), "ucc_attributes": ucc_attribute_aucs(data, rows)},
        "spans": span_metrics(rows, predictor.config.span_gate),
        "span_thresholds": span_threshold_sweep(predictor, rows),
        "bias": identity_sets(predictor, rows),
        "threat_templates": threat_metrics(predictor),
        "threat_flags": threat_flags(rows),
    }
    if not toxicity_only:
        result |= {"stance": stance_metrics(predictor, st_dev), "fidelity": fidelity(model, rows, predictor.bf16)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    target = out or model / "metrics.json"
    target.write_text(json.dumps(result, indent=2) + "\n")
    log.info("wrote %s in %.0f s", target, result["seconds"])
    return result


def threat_flags(rows: ScoredRows) -> dict[str, Any]:
    """Per dev source, at the default policy's threat thresholds: comments not labelled a threat that the threat
    score sends to review or rejects (false alarms, or threats the annotators out-voted), and labelled threats
    that reach review. Real comments, where the threat templates are generated ones."""
    from service.config import DEFAULT_REJECT, DEFAULT_REVIEW

    review, reject = DEFAULT_REVIEW["threat"], DEFAULT_REJECT["threat"]
    a = ATTRIBUTES.index("threat")
    out: dict[str, Any] = {"review_threshold": review, "reject_threshold": reject, "per_source": {}}
    for source in sorted({ex.source for ex in rows.examples}):
        idx = np.array([i for i, ex in enumerate(rows.examples) if ex.source == source])
        labelled = np.array([rows.examples[i].targets[a] >= 0.5 for i in idx])  # nan (unlabelled) compares False
        scores = rows.model[idx, a]
        out["per_source"][source] = {
            "rows": len(idx),
            "not_threat_to_review": int((scores[~labelled] >= review).sum()),
            "not_threat_rejected": int((scores[~labelled] >= reject).sum()),
            "threats": int(labelled.sum()),
            "threats_to_review": int((scores[labelled] >= review).sum()),
        }
    return out


def _civil_agreement(examples: list[ToxicityExample]) -> float | None:
    """The split-half annotator agreement on civil_toxic_spans' toxicity label (same dev rows as its AUC)."""
    rows = [ex for ex in examples if ex.source == "civil" and ex.annotators >= 2]
    if not rows:
        return None
    votes = [round(ex.targets[0] * ex.annotators) for ex in rows]
    return _round(split_half_agreement([ex.annotators for ex in rows], votes))


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
