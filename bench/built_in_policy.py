"""What the built-in policy holds (review or reject), beside a variant of its review thresholds.

Sets: the held-out civil comments the calibration never fitted on (service/training/calibration.py ``civil_rows``),
the hand-written clear cases (service/training/clear_cases.py), real comments (UCC's Globe and Mail validation comments
and ARC's posts, bench/obfuscation.py's set), and per attribute the held-out rows where raters agree it is there
(``clear_positive_rows``), and comments that name an identity group, harmless and toxic apart (the evaluation's
identity templates, the identity sets' dev rows). Each is scored once by the shipped model with its calibration, as
serving reads text (normalised), and decided by the built-in policy and by the variant: the built-in one with the
review thresholds given on the command line, on the raw scale the built-in ones are written in.

    python -m bench.built_in_policy --data ../shared/data --review insult=0.79 threat=0.55 identity_attack=0.75

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
from service.training.identity import EVAL2_NEUTRAL, EVAL2_TOXIC, EVAL_NEUTRAL, EVAL_TOXIC, templated


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
    apart from training) and the dev rows of the identity sets (Wikipedia comments, ToxiGen) that name a group."""
    harmless = [t.text for t in templated(EVAL_NEUTRAL + EVAL2_NEUTRAL, ())]
    toxic = [t.text for t in templated((), EVAL_TOXIC + EVAL2_TOXIC)]
    for source in ("wiki_identity", "toxigen"):
        for ex in split_toxicity(examples[source])[1]:
            if ex.subgroups:
                (toxic if ex.targets[0] >= 0.5 else harmless).append(ex.text)
    return {"naming an identity, harmless": harmless, "naming an identity, toxic": toxic}


def variant(overrides: list[str]) -> PolicySettings:
    built_in = Settings().default_policy
    review = dict(built_in.review)
    for item in overrides:
        name, _, value = item.partition("=")
        review[name] = float(value)
    return built_in.model_copy(update={"review": review})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--review", nargs="*", default=[], help="attribute=raw threshold, for the variant")
    args = parser.parse_args()
    predictor, calibration = Predictor(args.model), Calibration.load(args.model)
    proposed = variant(args.review)
    built_in = Policy.from_settings(Settings().default_policy, calibration)
    other = Policy.from_settings(proposed, calibration)
    rows = []
    for name, texts in sets(args.data).items():
        predictions = predict_all(predictor, [normalise(t).text for t in texts])
        scores = [calibration.scores(p.scores) for p in predictions]

        def held(policy: Policy, scores: list[dict[str, float]] = scores) -> str:
            share = sum(policy.decide(s).decision != Decision.ALLOW for s in scores) / len(scores)
            return f"{share:.2%}"

        rows.append({"set": name, "comments": len(texts), "built_in": held(built_in), "variant": held(other)})
    print_table(rows)
    print(f"built-in review, calibrated: {built_in.review}\nvariant review, calibrated: {other.review}")
    extra = {"model": predictor.version, "variant_review_raw": dict(proposed.review)}
    print(write_result("built_in_policy", rows, extra))


if __name__ == "__main__":
    main()
