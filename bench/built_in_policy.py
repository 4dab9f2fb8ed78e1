"""What the built-in policy holds (review or reject) and rejects unseen, beside a variant of its thresholds.

Sets: the held-out civil comments the calibration never fitted on (service/training/calibration.py ``civil_rows``),
the hand-written clear cases (service/training/clear_cases.py), real comments (UCC's Globe and Mail validation comments
and ARC's posts, bench/obfuscation.py's set), and per attribute the held-out rows where raters agree it is there
(``clear_positive_rows``), and comments that name an identity group, harmless and toxic apart (the evaluation's
identity templates, the identity sets' dev rows), and comments that stand up for a group (the evaluation's advocacy
templates). Each is scored once by the shipped model with its calibration, as serving reads text (normalised), and
decided by the built-in policy and by the variant: the built-in one with the review and reject thresholds given on
the command line, on the raw scale the built-in ones are written in (``attribute=`` drops one).

    python -m bench.built_in_policy --data ../shared/data --reject identity_attack=0.95

Writes bench/results/built_in_policy.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.common import print_table, write_result
from bench.obfuscation import real_comments
from service.config import DEFAULT_MODEL_DIR, PolicySettings, Settings
from service.contract import Decision
from service.model.calibration import Calibration
from service.model.predict import Predictor
from service.scoring.normalise import normalise
from service.scoring.policy import Policy
from service.training.calibration import civil_rows, clear_positive_rows
from service.training.clear_cases import CLEAR_CASES
from service.training.data import ToxicityExample, split_toxicity, toxicity_examples
from service.training.evaluate import predict_all
from service.training.identity import (
    EVAL2_NEUTRAL,
    EVAL2_TOXIC,
    EVAL_ADVOCACY,
    EVAL_NEUTRAL,
    EVAL_TOXIC,
    templated,
)


def sets(data: Path) -> dict[str, list[str]]:
    examples = toxicity_examples(data)
    out = {
        "civil comments, held out": civil_rows(examples),
        "written clear cases": [text for texts in CLEAR_CASES.values() for text in texts],
        "real comments (UCC, ARC)": real_comments(data),
    }
    out |= {f"rows raters agree: {a}": rows for a, rows in clear_positive_rows(examples).items()}
    return out | naming_an_identity(examples)


def naming_an_identity(examples: dict[str, list[ToxicityExample]]) -> dict[str, list[str]]:
    """Comments that name an identity group, harmless and toxic apart: the evaluation's identity templates (worded
    apart from training) and the dev rows of the identity sets (Wikipedia comments, ToxiGen) that name a group; and
    the evaluation's comments that stand up for a group."""
    harmless = [t.text for t in templated(EVAL_NEUTRAL + EVAL2_NEUTRAL, ())]
    toxic = [t.text for t in templated((), EVAL_TOXIC + EVAL2_TOXIC)]
    for source in ("wiki_identity", "toxigen"):
        for ex in split_toxicity(examples[source])[1]:
            if ex.subgroups:
                (toxic if ex.targets[0] >= 0.5 else harmless).append(ex.text)
    return {
        "naming an identity, harmless": harmless,
        "naming an identity, toxic": toxic,
        "standing up for a group": [t.text for t in templated(EVAL_ADVOCACY, ())],
    }


def variant(review: list[str], reject: list[str]) -> PolicySettings:
    """The built-in policy with these ``attribute=raw threshold`` review and reject thresholds set (``attribute=``:
    none on that attribute)."""
    built_in = Settings().default_policy
    thresholds = {"review": dict(built_in.review), "reject": dict(built_in.reject)}
    for side, overrides in (("review", review), ("reject", reject)):
        for item in overrides:
            name, _, value = item.partition("=")
            if value:
                thresholds[side][name] = float(value)
            else:
                thresholds[side].pop(name, None)
    return built_in.model_copy(update=thresholds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--review", nargs="*", default=[], help="attribute=raw threshold, for the variant")
    parser.add_argument("--reject", nargs="*", default=[], help="attribute=raw threshold (attribute=: none)")
    args = parser.parse_args()
    predictor, calibration = Predictor(args.model), Calibration.load(args.model)
    proposed = variant(args.review, args.reject)
    built_in = Policy.from_settings(Settings().default_policy, calibration)
    other = Policy.from_settings(proposed, calibration)
    rows = []
    for name, texts in sets(args.data).items():
        predictions = predict_all(predictor, [normalise(t).text for t in texts])
        scores = [calibration.scores(p.scores) for p in predictions]

        def held(policy: Policy, scores: list[dict[str, float]] = scores) -> str:
            """Held (review or reject) / rejected, as shares."""
            decisions = [policy.decide(s).decision for s in scores]
            share = sum(d != Decision.ALLOW for d in decisions) / len(scores)
            return f"{share:.2%} / {sum(d == Decision.REJECT for d in decisions) / len(scores):.2%}"

        rows.append({"set": name, "comments": len(texts), "built_in": held(built_in), "variant": held(other)})
    print_table(rows)
    print(f"built-in, calibrated: review {built_in.review}, reject {built_in.reject}")
    print(f"variant, calibrated: review {other.review}, reject {other.reject}")
    extra = {
        "columns": "held (review or reject) / rejected",
        "model": predictor.version,
        "variant_review_raw": dict(proposed.review),
        "variant_reject_raw": dict(proposed.reject),
    }
    print(write_result("built_in_policy", rows, extra))


if __name__ == "__main__":
    main()
