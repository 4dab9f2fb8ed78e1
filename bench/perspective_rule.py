"""The rule a site kept from Perspective, `TOXICITY, IDENTITY_ATTACK or INSULT >= 0.8 -> review`, on the written
insults and identity attacks (service/training/clear_cases.py) and on held-out civil comments, per model, each with
its own calibration: what a site leaving Perspective keeps.

Run: `python bench/perspective_rule.py model_cards/moderato-v8 [model_cards/moderato-v4]`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.model.calibration import Calibration  # noqa: E402
from service.model.predict import Predictor  # noqa: E402
from service.training.calibration import civil_rows  # noqa: E402
from service.training.clear_cases import IDENTITY_ATTACK, INSULT  # noqa: E402
from service.training.data import toxicity_examples  # noqa: E402
from service.training.evaluate import predict_all  # noqa: E402

RULE = {"toxicity": 0.8, "identity_attack": 0.8, "insult": 0.8}


def held(predictor: Predictor, calibration: Calibration | None, texts: list[str]) -> int:
    count = 0
    for p in predict_all(predictor, texts):
        scores = calibration.scores(p.scores) if calibration else p.scores
        count += any(scores[a] >= t for a, t in RULE.items())
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+", type=Path)
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    abusive = list(INSULT + IDENTITY_ATTACK)
    civil = civil_rows(toxicity_examples(args.data))
    rows: list[dict[str, Any]] = []
    for folder in args.models:
        predictor, calibration = Predictor(folder), Calibration.load(folder)
        caught, flagged = held(predictor, calibration, abusive), held(predictor, calibration, civil)
        rows.append(
            {
                "model": folder.name,
                "written abusive held": f"{caught} of {len(abusive)} ({caught / len(abusive):.1%})",
                "civil comments sent to review": f"{flagged} of {len(civil)} ({flagged / len(civil):.1%})",
            }
        )
    print_table(rows)
    write_result("perspective_rule", rows, {"rule": RULE, "data": str(args.data)})


if __name__ == "__main__":
    main()
