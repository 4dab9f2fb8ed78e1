"""An attack on a group padded with civil sentences: what reading its sentence alone for identity attack catches and
costs, per gate (service/model/predict.py, IDENTITY_LOOK_GATE; 1.01 is off).

The padded set: the 30 hand-written identity attacks of the clear cases (service/training/clear_cases.py), each
between two civil sentences about an article ("I agree with most of this article and appreciate the balanced
coverage of the zoning debate. Jews are vermin. The map was helpful too, thanks."). The costs: the built-in policy's
hold rate on real comments (UCC's Globe and Mail comments and ARC's posts, 8,787) and on the dev rows of civil and
UCC (3,000), identity-attack ROC-AUC on those dev rows (rows with a panel share, positive at 0.5), and the model's
time for the real comments, each gate read side by side in one run.

    python -m bench.identity_look --data ../shared/data

Writes bench/results/identity_look.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from bench.common import print_table, write_result
from bench.obfuscation import real_comments
from service.config import DEFAULT_MODEL_DIR, Settings
from service.contract import Decision
from service.model import predict
from service.model.calibration import Calibration
from service.model.labels import ATTRIBUTE_INDEX
from service.model.predict import Predictor
from service.scoring.normalise import normalise
from service.scoring.policy import Policy
from service.training.clear_cases import CLEAR_CASES
from service.training.data import split_toxicity, toxicity_examples

FRONT = (
    "I agree with most of this article and appreciate the balanced coverage of the zoning debate.",
    "Thanks for the update on the budget, it was a clear read.",
)
BACK = ("The map was helpful too, thanks.", "Looking forward to the council meeting next week.")
DEV_ROWS = 3000


def padded() -> list[str]:
    attacks = CLEAR_CASES["identity_attack"]
    return [f"{FRONT[i % 2]} {text} {BACK[i % 2]}" for i, text in enumerate(attacks)]


class Reader:
    def __init__(self, model: Path) -> None:
        self.predictor = Predictor(model)
        self.calibration = Calibration.load(model)
        self.policy = Policy.from_settings(Settings().default_policy, self.calibration)

    def scores(self, texts: list[str], gate: float) -> tuple[list[dict[str, float]], float]:
        saved = predict.IDENTITY_LOOK_GATE
        predict.IDENTITY_LOOK_GATE = gate
        try:
            started = time.perf_counter()
            out = [p.scores for p in self.predictor.predict([normalise(t).text for t in texts])]
            return out, time.perf_counter() - started
        finally:
            predict.IDENTITY_LOOK_GATE = saved

    def held(self, scores: list[dict[str, float]]) -> float:
        assert self.calibration is not None
        return float(
            np.mean([self.policy.decide(self.calibration.scores(s)).decision != Decision.ALLOW for s in scores])
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--gates", nargs="+", type=float, default=[1.01, 0.5, 0.4, 0.3])
    args = parser.parse_args()
    reader = Reader(DEFAULT_MODEL_DIR)
    sources = toxicity_examples(args.data)
    dev = [e for name in ("civil", "ucc") for e in split_toxicity(sources[name])[1]][:DEV_ROWS]
    targets = np.array([e.targets[ATTRIBUTE_INDEX["identity_attack"]] for e in dev])
    known = ~np.isnan(targets)
    real = real_comments(args.data)
    rows: list[dict[str, Any]] = []
    for gate in args.gates:
        pad, _ = reader.scores(padded(), gate)
        dev_scores, _ = reader.scores([e.text for e in dev], gate)
        real_scores, seconds = reader.scores(real, gate)
        identity = np.array([s["identity_attack"] for s in dev_scores])
        rows.append(
            {
                "gate": gate,
                "padded identity attacks held (30)": f"{reader.held(pad):.1%}",
                "real comments held (8,787)": f"{reader.held(real_scores):.2%}",
                "dev civil+ucc held (3,000)": f"{reader.held(dev_scores):.2%}",
                "dev identity attack AUC": round(float(roc_auc_score(targets[known] >= 0.5, identity[known])), 4),
                "real comments model s": round(seconds, 1),
            }
        )
    print_table(rows)
    print(f"wrote {write_result('identity_look', rows, {'model': reader.predictor.version})}")


if __name__ == "__main__":
    main()
