"""Would three more training sources fix what the shipped head misreads? A controlled head-tuning experiment.

moderato-v10 reads short comments of support for a group as attacks on it ("Trans rights are human rights." identity
attack 1.00), lets wishes of harm through ("Hope you get cancer." threat 0.32 raw) and flags violent idioms ("Hang in
there, everyone."). Retraining one output row on frozen features could not separate these (model card). This retrains
the whole toxicity and span heads as moderato-v8's were (`moderato tune-heads` from moderato-v4's frozen encoder,
1,000 steps, seed 21) twice: as moderato-v8 was (the control), and with these sources drawn 3 %, 3 % and 2 % of the
time: sentences of support (clean on every attribute), wishes of harm (threat and toxicity, the wish as the threat
span) with kind twins in the same frames, and violent idioms (clean). Their frames are apart from `EVAL_ADVOCACY`, the
threat templates' evaluation set and the probes read here. Each arm is read on the card's dev splits
(``evaluate(..., toxicity_only=True)``) and, for decisions, the built-in raw thresholds with identity attack rejected
at 0.95 (the policy before 2026-12-05), uncalibrated. Nothing here is shipped: it measures a mix for the next retune.

    python -m bench.head_sources --data ../shared/data   # ~7 min here (bf16), both arms
    python -m bench.head_sources --data ../shared/data --shares support_templates=0.015 wish_templates=0.015 \
        idiom_templates=0.01 --result head_sources_half
    python -m bench.head_sources --data ../shared/data --shares contrast_templates=0.03 --result head_sources_contrast
    python -m bench.head_sources --data ../shared/data --shares support_templates=0 wish_templates=0 idiom_templates=0 \
        hate_code_templates=0.02 --result head_sources_hate_codes

Writes bench/results/head_sources.json (or ``--result``); the arms' folders go to a temporary folder (``--work`` to
keep them).
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from collections import Counter
from dataclasses import replace
from itertools import product
from pathlib import Path
from typing import Any

from bench.common import print_table, write_result
from service.config import PROJECT_ROOT, PolicySettings
from service.model.labels import ATTRIBUTES, SPAN_INDEX
from service.model.predict import Predictor
from service.scoring.policy import Policy
from service.training import hate_codes, head_tuning
from service.training.clear_cases import CLEAR_CASES
from service.training.data import ToxicityExample
from service.training.evaluate import evaluate, predict_all
from service.training.identity import EVAL_ADVOCACY, TEMPLATE_FORMS, fill, templated

START = PROJECT_ROOT / "model_cards" / "moderato-v4"
SUPPORT = (
    "Equal rights for {x} people now.", "{X} people deserve the same respect as anyone.",
    "Hatred of {x} people must end.", "Protect {x} kids from bullying.", "We stand with our {x} neighbours.",
    "{X} people belong in this town.", "Violence against {x} people is never acceptable.",
    "Celebrate {x} history month.", "Defend the rights of {x} workers.",
    "{X} people are our neighbours and deserve respect.",
)  # fmt: skip
WISH_FRAMES = (
    "I hope {w}.", "Honestly, I hope {w}.", "I really hope {w} soon.", "I pray that {w}.",
    "Can't wait for the day {w}.", "Here's hoping {w}.",
)  # fmt: skip
HARM = (
    "you catch a flesh-eating disease", "you choke on your dinner", "your car goes off a cliff",
    "you die alone and in pain", "you get hit by a train", "a tumour eats your brain", "you drown in your bathtub",
    "you never wake up", "your family has to bury you", "someone puts you out of your misery",
    "the author gets run over", "that reporter ends up in a coffin",
)  # fmt: skip
KIND = (
    "you get well", "you enjoy your trip", "your car passes inspection", "you find a good doctor",
    "you sleep well tonight", "your family has a great holiday", "the author writes a follow-up",
    "that reporter wins an award", "you get the job", "your garden does well this year",
)  # fmt: skip
IDIOMS = (
    "This heat is killing me.", "We crushed it at the bake sale.", "Let's bury the hatchet and move on.",
    "That exam murdered me.", "I'm dying to see the new park.", "Shoot me a message when you land.",
    "The comedian absolutely slayed.", "Let's knock this budget out of the park.", "Hit me up after the meeting.",
    "Strike while the iron is hot.", "We should axe the parking fee.", "The new bakery is killing it.",
    "I could strangle a coffee right now, what a morning.", "Our quiz team got slaughtered last night.",
    "Time to pull the plug on this project.",
)  # fmt: skip
# Attacks on the same groups in the support sentences' own words, so that what the head learns from support is the
# meaning (respect, belonging) and not the words "deserve" or "rights": the fourth source, off unless --shares sets it.
CONTRAST = (
    "{X} people don't deserve the same rights as us.", "{X} people do not belong in this town.",
    "Hatred of {x} people is well earned.", "{X} people deserve no respect at all.",
    "Keep {x} people away from our kids.", "No {x} people should be allowed on our street.",
    "Stop protecting {x} people, they are the problem.", "{X} workers are lazy and have no rights here.",
)  # fmt: skip
SHARES = {
    "support_templates": 0.03,
    "wish_templates": 0.03,
    "idiom_templates": 0.02,
    "contrast_templates": 0.0,
    "hate_code_templates": 0.0,  # service/training/hate_codes.py: Nazi glorification and denial, with clean twins
}
PROBES = {
    "wishes of harm": ["Hope you get cancer.", "I hope your plane crashes.", "Nobody would miss you if you were gone."],
    "idioms": ["Kill the bill, not the messenger.", "Hang in there, everyone.", "This commute is killing me."],
    "support": [
        "Black lives matter.",
        "Trans rights are human rights.",
        "Stop Asian hate.",
        "Women deserve equal pay.",
    ],
}
BEFORE = PolicySettings(scale="raw", reject={"severe_toxicity": 0.85, "threat": 0.85, "identity_attack": 0.95})


def _clean() -> list[float]:
    return [0.0] * len(ATTRIBUTES)


def _known(**values: float) -> list[float]:
    """Targets with these attributes known (the rest nan: the loss skips them)."""
    return [values.get(name, float("nan")) for name in ATTRIBUTES]


def _sentence(frame: str, slot: str) -> str:
    text = frame.format(w=slot)
    return text[0].upper() + text[1:]


def sources() -> dict[str, list[ToxicityExample]]:
    forms = [form for group in TEMPLATE_FORMS.values() for form in group]
    support = [ToxicityExample(fill(t, f), "support_templates", _clean(), []) for t, f in product(SUPPORT, forms)]
    wish_targets = _known(toxicity=1.0, threat=1.0, identity_attack=0.0, obscene=0.0)
    wishes = []
    for frame, harm in product(WISH_FRAMES, HARM):
        text = _sentence(frame, harm)
        start = text.index(harm)
        span = (start, start + len(harm), SPAN_INDEX["threat"])
        wishes.append(ToxicityExample(text, "wish_templates", list(wish_targets), [span]))
    wishes += [ToxicityExample(_sentence(f, k), "wish_templates", _clean(), []) for f, k in product(WISH_FRAMES, KIND)]
    idioms = [ToxicityExample(text, "idiom_templates", _clean(), []) for text in IDIOMS]
    attack_targets = _known(toxicity=1.0, identity_attack=1.0, threat=0.0, obscene=0.0)
    contrast = [
        ToxicityExample(fill(t, f), "contrast_templates", list(attack_targets)) for t, f in product(CONTRAST, forms)
    ]
    hate_targets = _known(toxicity=1.0, identity_attack=1.0, obscene=0.0)
    hateful = [
        ToxicityExample(text, "hate_code_templates", list(hate_targets), None) for text in hate_codes.TRAIN_HATEFUL
    ]
    hateful += [ToxicityExample(text, "hate_code_templates", _clean(), []) for text in hate_codes.TRAIN_TWINS]
    return {
        "hate_code_templates": hateful,
        "support_templates": support,
        "wish_templates": wishes,
        "idiom_templates": idioms,
        "contrast_templates": contrast,
    }


def train_arm(data: Path, out: Path, shares: dict[str, float] | None) -> None:
    """moderato-v8's head recipe; with ``shares``, the three sources drawn that often."""
    opts = head_tuning.HeadTuningOptions(data=data, start=START, out=out, version=out.name)
    if shares:
        opts = replace(opts, weights={**opts.weights, **shares}, extra_sources=sources())
    head_tuning.tune_heads(opts)


def read_arm(data: Path, folder: Path) -> dict[str, Any]:
    metrics = evaluate(data, folder, out=folder / "metrics.json", toxicity_only=True)
    predictor = Predictor(folder)
    policy = Policy.from_settings(BEFORE, None)

    def decisions(texts: list[str]) -> str:
        counted = Counter(policy.decide(p.scores).decision.value for p in predict_all(predictor, texts))
        return " / ".join(str(counted[d]) for d in ("allow", "review", "reject"))

    tox = metrics["toxicity"]["per_source"]
    probes = {
        name: " ".join(f"{p.scores['toxicity']:.2f}|{p.scores['threat']:.2f}|{p.scores['identity_attack']:.2f}"
                       for p in predictor.predict(texts))
        for name, texts in PROBES.items()
    }  # fmt: skip
    return {
        "support (EVAL_ADVOCACY): allow / review / reject": decisions([t.text for t in templated(EVAL_ADVOCACY, ())]),
        "hate codes, held out (12): allow / review / reject": decisions(list(hate_codes.EVAL_HATEFUL)),
        "their clean twins, held out (12): allow / review / reject": decisions(list(hate_codes.EVAL_TWINS)),
        "written clear cases: allow / review / reject": decisions([t for ts in CLEAR_CASES.values() for t in ts]),
        "mean toxicity AUC": metrics["toxicity"]["mean_toxicity_auc"],
        **{f"toxicity AUC {s}": tox[s]["toxicity"]["auc"] for s in ("civil", "ucc", "wiki_identity", "toxigen")},
        **{f"identity bias {k}": v["model"]["final"] for k, v in metrics["bias"].items()},
        "threat templates: threat AUC": metrics["threat_templates"]["threat_auc"],
        "span F1 tsd / civil": f"{metrics['spans']['tsd']['char_f1']} / {metrics['spans']['civil']['char_f1']}",
        **{f"probes {k} (toxicity|threat|identity attack)": v for k, v in probes.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=None, help="keep the arms' model folders here")
    parser.add_argument("--shares", nargs="*", default=[], help="source=share, in place of SHARES' (e.g. a sweep)")
    parser.add_argument("--result", default="head_sources", help="the name of the results file")
    args = parser.parse_args()
    shares = {**SHARES, **{k: float(v) for k, _, v in (item.partition("=") for item in args.shares)}}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    work = args.work or Path(tempfile.mkdtemp(prefix="moderato-head-sources-"))
    arms = {"control (moderato-v8's recipe)": work / "control", "with the three sources": work / "sources"}
    for folder, arm_shares in zip(arms.values(), (None, shares), strict=True):
        train_arm(args.data, folder, arm_shares)
    read = {name: read_arm(args.data, folder) for name, folder in arms.items()}
    measures = next(iter(read.values()))
    rows = [{"measure": key, **{name: values[key] for name, values in read.items()}} for key in measures]
    print_table(rows)
    print(write_result(args.result, rows, {"shares": shares, "start": str(START.relative_to(PROJECT_ROOT))}))
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
