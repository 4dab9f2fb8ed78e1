"""``moderato retune-severe``: retrain the severe-toxicity output alone, on clear positives, and choose how much.

What moves: one row of the toxicity head's last layer (the severe-toxicity logit) and its bias. The encoder, the
head's hidden layer, every other attribute, the span head and stance stay bit for bit; the one other thing that can
change is whether a comment's spans are cut, which waits for its highest attribute score to reach the span gate.
The row reads the head's hidden layer, computed once per text.

It trains on the base mix's severe targets (a capped draw per source) mixed with the severe templates
(service/training/severe.py) at a share chosen on dev: for each share in the grid, the row is trained, Platt-fitted
to rater agreement on the calibration's fit half (as ``moderato calibrate`` does) and read on the severe dev set
(service/training/severe_dev.py). The rule: the share that holds the most dev severe comments at 0.8, among those
that score at most one milder dev comment at 0.8 and at most ``CIVIL_LIMIT`` of the fit half's civil comments at
0.7. The calibration's held-out half is never read here: ``moderato calibrate`` reports on it afterwards.

The built-in review and reject thresholds for severe toxicity are on the raw scale (service/config.py); the new row
reads differently, so each is moved to where it fires on as many fit-half civil comments as the start's did.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from service.config import STANCE_PRIOR_FILE
from service.model.calibration import Calibration
from service.model.checkpoint import load_model, save_model
from service.model.labels import ATTRIBUTE_INDEX
from service.model.predict import Predictor
from service.model.stance_confidence import CONFIDENCE_FILE
from service.system import git_commit, machine
from service.training import severe_dev
from service.training.calibration import agreement_rows, fit_agreement
from service.training.data import ToxicityExample, split_toxicity, toxicity_examples
from service.training.severe import training_severe

log = logging.getLogger(__name__)

SEVERE = ATTRIBUTE_INDEX["severe_toxicity"]
SHARES = (0.1, 0.3, 0.5, 0.7)
CIVIL_LIMIT = 0.01  # the bound on civil comments at 0.7 or above
HOLD_AT = 0.8
METRICS_FILE = "severe-tuning-metrics.json"
# The built-in raw thresholds the start (moderato-v8) was served with; service/config.py holds the moved ones.
START_THRESHOLDS = {"review": 0.42, "reject": 0.85}


@dataclass
class SevereOptions:
    """
    :param start: the model whose severe row is retrained (everything else is copied bit for bit).
    :param limit_per_source: training rows drawn from each source of the base mix.
    """

    data: Path
    start: Path
    out: Path
    version: str
    shares: tuple[float, ...] = SHARES
    steps: int = 2000
    lr: float = 0.05
    limit_per_source: int = 4000
    seed: int = 29


@dataclass
class Row:
    weight: np.ndarray
    bias: float

    def score(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ self.weight + self.bias)))


def last_layer(net: Any) -> nn.Linear:
    """The toxicity head's output layer (network.toxicity_head: dropout, linear, GELU, linear)."""
    return cast(nn.Linear, cast(nn.Sequential, net.toxicity_head)[3])


def hidden_layer(predictor: Predictor, pooled: np.ndarray) -> np.ndarray:
    """The toxicity head's hidden layer (eval mode: its dropout is off): what the last layer reads."""
    head = predictor.net.toxicity_head
    with torch.no_grad():
        return head[2](head[1](torch.from_numpy(pooled.astype(np.float32)))).numpy()


def head_features(predictor: Predictor, texts: list[str]) -> np.ndarray:
    """Each text's first window as training reads it."""
    return hidden_layer(predictor, predictor.pooled(texts))


@dataclass
class Readings:
    """Every reading of some texts as serving scores them (``Predictor.reading_states``): a text's score is the
    maximum over its readings, so the dev readout and the thresholds see what serving will."""

    features: np.ndarray  # (readings, hidden), grouped by text in order
    starts: np.ndarray  # each text's first reading

    @classmethod
    def of(cls, predictor: Predictor, texts: list[str]) -> Readings:
        states = predictor.reading_states(texts)
        starts = np.cumsum([0] + [len(s) for s in states[:-1]])
        return cls(hidden_layer(predictor, np.concatenate(states)), starts)

    def score(self, row: Row) -> np.ndarray:
        return np.maximum.reduceat(row.score(self.features), self.starts)

    def take(self, mask: np.ndarray) -> Readings:
        ends = np.append(self.starts[1:], len(self.features))
        parts = [np.arange(a, b) for a, b, keep in zip(self.starts, ends, mask, strict=True) if keep]
        return Readings(self.features[np.concatenate(parts)], np.cumsum([0] + [len(p) for p in parts[:-1]]))


def train_row(
    start: Row,
    data: tuple[np.ndarray, np.ndarray],
    templates: tuple[np.ndarray, np.ndarray],
    share: float,
    opts: SevereOptions,
) -> Row:
    """Logistic regression of one output from ``start``: each step mixes a batch of the base rows (soft targets)
    and a batch of the templates, weighted ``1 - share`` and ``share``."""
    generator = torch.Generator().manual_seed(opts.seed)
    w = torch.tensor(start.weight, dtype=torch.float32, requires_grad=True)
    b = torch.tensor(start.bias, dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=opts.lr)
    xd, yd = (torch.from_numpy(a.astype(np.float32)) for a in data)
    xt, yt = (torch.from_numpy(a.astype(np.float32)) for a in templates)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    for _ in range(opts.steps):
        i = torch.randint(len(yd), (256,), generator=generator)
        j = torch.randint(len(yt), (64,), generator=generator)
        loss = (1 - share) * bce(xd[i] @ w + b, yd[i]) + share * bce(xt[j] @ w + b, yt[j])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return Row(w.detach().numpy().copy(), float(b.detach()))


def base_rows(sources: dict[str, list[ToxicityExample]], limit: int, seed: int) -> tuple[list[str], np.ndarray]:
    """A capped draw of each source's training rows that have a severe target, and those targets."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    targets: list[float] = []
    for _, examples in sorted(sources.items()):
        train = [ex for ex in split_toxicity(examples)[0] if not np.isnan(ex.targets[SEVERE])]
        if len(train) > limit:
            train = [train[i] for i in sorted(rng.choice(len(train), limit, replace=False))]
        texts += [ex.text for ex in train]
        targets += [ex.targets[SEVERE] for ex in train]
    return texts, np.array(targets, dtype=np.float32)


@dataclass
class DevReadout:
    share: float
    severe_held: float  # dev severe comments at >= HOLD_AT after calibration
    milder_held: int  # milder dev comments at >= HOLD_AT
    civil_at_07: float  # fit-half civil comments at >= 0.7
    row: Row
    calibration: Calibration | None

    def allowed(self) -> bool:
        return self.milder_held <= 1 and self.civil_at_07 <= CIVIL_LIMIT

    def as_dict(self) -> dict[str, Any]:
        return {
            "share": self.share,
            "dev_severe_held_at_0.8": round(self.severe_held, 4),
            "dev_milder_at_0.8": self.milder_held,
            "fit_half_civil_at_0.7": round(self.civil_at_07, 4),
            "calibrated": self.calibration is not None,
        }


def civil_threshold(scores: np.ndarray, share: float, decimals: int = 3) -> float:
    """The lowest raw threshold of ``decimals`` places that fires on at most ``share`` of ``scores`` (a civil
    comment set). Rounded up: rounding to nearest could land below a civil score and fire on it."""
    ranked = np.sort(scores)[::-1]
    allowed = int(np.floor(share * len(ranked) + 1e-9))
    if allowed >= len(ranked):
        return 1.0
    return math.ceil(float(np.nextafter(ranked[allowed], 1.0)) * 10**decimals) / 10**decimals


def retune_severe(opts: SevereOptions) -> dict[str, Any]:
    """Choose the share on dev, write ``opts.out`` (the start with the chosen severe row) and its report."""
    predictor = Predictor(opts.start)
    layer = last_layer(predictor.net)
    start = Row(layer.weight[SEVERE].detach().numpy().copy(), float(layer.bias[SEVERE].detach()))
    sources = toxicity_examples(opts.data)
    texts, targets = base_rows(sources, opts.limit_per_source, opts.seed)
    sentences = training_severe()
    agreement = agreement_rows(sources)
    dev_texts = list(severe_dev.SEVERE) + list(severe_dev.NOT_SEVERE)
    log.info("reading %d base rows, %d templates, %d dev rows", len(texts), len(sentences), len(agreement.texts))
    features = head_features(predictor, texts)
    template_features = head_features(predictor, [s.text for s in sentences])
    fit_rows = Readings.of(predictor, [t for t, keep in zip(agreement.texts, agreement.fit, strict=True) if keep])
    civil_rows = fit_rows.take(agreement.civil[agreement.fit])
    dev_rows = Readings.of(predictor, dev_texts)
    template_targets = np.array([1.0 if s.severe else 0.0 for s in sentences], dtype=np.float32)
    labels = agreement.labels[agreement.fit, SEVERE]

    def readout(share: float, row: Row) -> DevReadout:
        fitted = fit_agreement(fit_rows.score(row), labels, agreement.civil[agreement.fit])
        calibration = None if fitted is None else Calibration("dev", {"severe_toxicity": fitted.knots})

        def calibrated(rows: Readings) -> np.ndarray:
            raw = rows.score(row)
            return raw if calibration is None else np.array([calibration.score("severe_toxicity", v) for v in raw])

        dev = calibrated(dev_rows)
        n = len(severe_dev.SEVERE)
        return DevReadout(
            share,
            float((dev[:n] >= HOLD_AT).mean()),
            int((dev[n:] >= HOLD_AT).sum()),
            float((calibrated(civil_rows) >= 0.7).mean()),
            row,
            calibration,
        )

    grid = [readout(0.0, start)]  # the start's own row, for the report
    for share in opts.shares:
        row = train_row(start, (features, targets), (template_features, template_targets), share, opts)
        grid.append(readout(share, row))
        log.info("share %.2f: %s", share, grid[-1].as_dict())
    allowed = [r for r in grid[1:] if r.allowed()]
    if not allowed:
        raise ValueError("no share keeps the milder dev comments and the civil comments under their bounds")
    chosen = max(allowed, key=lambda r: (r.severe_held, -r.share))
    thresholds = moved_thresholds(civil_rows.score(start), civil_rows.score(chosen.row))
    report = {
        "model": opts.version,
        "start": str(opts.start),
        "command": "moderato " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("moderato") else " ".join(sys.argv),
        "rule": f"most dev severe comments held at {HOLD_AT} after calibration, with at most one milder dev comment "
        f"there and at most {CIVIL_LIMIT:.0%} of the fit half's civil comments at 0.7",
        "base_rows": len(texts),
        "templates": {"severe": int(template_targets.sum()), "milder": int(len(sentences) - template_targets.sum())},
        "dev": {
            "severe": len(severe_dev.SEVERE),
            "milder": len(severe_dev.NOT_SEVERE),
            "civil": int((agreement.civil & agreement.fit).sum()),
        },
        "grid": [r.as_dict() for r in grid],
        "chosen_share": chosen.share,
        "raw_thresholds": thresholds,
        "git_commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    write_model(opts, chosen.row, report)
    return report


def moved_thresholds(before: np.ndarray, after: np.ndarray) -> dict[str, dict[str, float]]:
    """The built-in raw review and reject thresholds for severe toxicity, moved so each fires on the same share of
    civil comments with the new row as the old threshold did with the start's. A reject threshold is never lowered:
    it removes a comment with no one looking, and a threshold just above the highest civil score seen on dev is one
    unlucky comment away from removing a civil one."""
    out: dict[str, dict[str, float]] = {}
    for name, old in START_THRESHOLDS.items():
        share = float((before >= old).mean())
        moved = civil_threshold(after, share)
        out[name] = {
            "before": old,
            "same_civil_share_at": moved,
            "after": max(old, moved) if name == "reject" else moved,
            "civil_share": round(share, 4),
        }
    return out


def write_model(opts: SevereOptions, row: Row, report: dict[str, Any]) -> None:
    """The start's weights with ``row`` in place of its severe output; the stance confidence maps and article prior
    (stance is unchanged) come along. Calibration is ``moderato calibrate``'s job."""
    net, config = load_model(opts.start)
    layer = last_layer(net)
    with torch.no_grad():
        layer.weight[SEVERE] = torch.from_numpy(row.weight)
        layer.bias[SEVERE] = row.bias
    config.version = opts.version
    # beside its start, the new model stores only the row's tensors and reads the rest from there
    config.weights_of = opts.start.name if opts.out.resolve().parent == opts.start.resolve().parent else ""
    opts.out.mkdir(parents=True, exist_ok=True)
    save_model(net, config, opts.out)
    for name in (CONFIDENCE_FILE, STANCE_PRIOR_FILE):  # the stance head's maps and article prior, both unchanged
        if (opts.start / name).exists():
            shutil.copy2(opts.start / name, opts.out / name)
    (opts.out / METRICS_FILE).write_text(json.dumps(report, indent=2) + "\n")
