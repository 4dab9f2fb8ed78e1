"""What the second look costs and catches: toxicity ROC-AUC on UCC's and Toxic Spans' dev rows at several gates
(1.01: off), per model, and a threat or an insult padded with civil sentences.

Run: `python bench/second_look.py model_cards/moderato-v4 model_cards/moderato-v8 --gates 0.5 0.8 0.9 1.01`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.model import predict  # noqa: E402
from service.training.data import split_toxicity, toxicity_examples  # noqa: E402
from service.training.evaluate import predict_all  # noqa: E402

FILLER = "The council met on Tuesday to discuss the budget for the coming year and the library. "
PADDED = {
    "threat padded": FILLER * 150 + "I will find you and I will kill you. " + FILLER * 40,
    "insult padded": FILLER * 150 + "You are a pathetic moron. " + FILLER * 40,
}


def main() -> None:
    from sklearn.metrics import roc_auc_score

    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--gates", nargs="+", type=float, default=[0.5, 0.8, 0.9, 1.01])
    args = parser.parse_args()
    sources = toxicity_examples(args.data)
    dev = {name: split_toxicity(sources[name])[1] for name in ("ucc", "civil")}
    rows: list[dict[str, Any]] = []
    for folder in args.models:
        predictor = predict.Predictor(folder)
        for gate in args.gates:
            predict.SECOND_LOOK_GATE = gate
            row: dict[str, Any] = {"model": folder.name, "gate": gate}
            for name, examples in dev.items():
                labels = np.array([ex.targets[0] >= 0.5 for ex in examples])
                scores = [p.scores["toxicity"] for p in predict_all(predictor, [ex.text for ex in examples])]
                row[f"{name} toxicity AUC"] = round(float(roc_auc_score(labels, scores)), 4)
            for name, text in PADDED.items():
                (p,) = predictor.predict([text])
                row[name] = round(max(p.scores["threat"], p.scores["insult"]), 3)
            rows.append(row)
    print_table(rows)
    write_result("second_look", rows, {"data": str(args.data), "rows": {k: len(v) for k, v in dev.items()}})


if __name__ == "__main__":
    main()
