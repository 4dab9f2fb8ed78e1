"""Does a site's own moderation make its model better? The learning loop (``moderato learn``) on a simulated site.

The site: ``sites/fox_news_comments.csv.gz`` (1,528 Fox News reader comments under 10 articles, labelled hateful
under the annotators' broad guideline), its moderators deciding comments in file order (arrival order). The newest
30 % of the comments (by arrival) are held out throughout, as the gate holds out a site's newest labels. After the
first 250, 500 and 1,000 decisions a candidate is learned and gated exactly as ``moderato learn`` does; the table
gives the site's held-out AUC of the served model and the candidate (95 % intervals), the gate's verdict and the
standard dev metrics' largest fall. Three more rows: what else the labels could move at 1,000 decisions (the whole
toxicity head, or its last layer, each with replay of the base mix's labels), and an adversarial site whose
moderators' labels are flipped at random, which must not get a candidate through the gate.

    python -m bench.learning --data ../shared/data

Writes bench/results/learning.json and the model folder's learning-metrics.json (the recorded run: moderato-v8's, whose
toxicity output moderato-v9 keeps bit for bit).

    python -m bench.learning --data ../shared/data --seeds 0 1 2

Only the shipped learner at 1,000 decisions, once per training seed (the replay draw and the steps' batches): how
much of a candidate's gain is the seed's. Writes bench/results/learning_seeds.json.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import logging
import random
import re
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import print_table, write_result
from service.config import DEFAULT_MODEL_DIR
from service.model.predict import Predictor
from service.moderation.labels import Label
from service.training.gate import GateOptions
from service.training.learning import WORK, LearnOptions, learn

SITE = "sites/fox_news_comments.csv.gz"
HELD_OUT = 0.3
STEPS = (250, 500, 1000)


def site_labels(data: Path) -> list[Label]:
    with gzip.open(data / SITE, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    return [
        Label("fox", row["id"], row["text"], int(row["hateful"]), "moderator", float(i), "", "toxicity", "simulated")
        for i, row in enumerate(rows)
    ]


def flipped(labels: list[Label], seed: int) -> list[Label]:
    """Moderators labelling at random: each label kept or flipped by a coin."""
    rng = random.Random(seed)
    return [replace(label, toxic=label.toxic ^ rng.randint(0, 1)) for label in labels]


def run_one(name: str, train: list[Label], held: list[Label], opts: LearnOptions, base: Predictor) -> dict[str, Any]:
    started = time.perf_counter()
    # each row is its own site's first judgement on these held-out labels (the gate counts a site's reruns on one
    # window as further tries, service/training/gate.py); the feature caches under WORK are shared
    own = opts.root / "runs" / re.sub(r"[^a-z0-9]+", "-", f"{name} {len(train)} {opts.seed}".lower())
    own.mkdir(parents=True, exist_ok=True)
    (opts.root / WORK).mkdir(parents=True, exist_ok=True)
    if not (own / WORK).exists():
        (own / WORK).symlink_to((opts.root / WORK).resolve(), target_is_directory=True)
    report = learn(train, replace(opts, root=own), base=base, held_out=held)
    site = report["gate"]["site"]
    standard = report["gate"]["standard"]
    worst = min(standard.items(), key=lambda kv: kv[1]["change"])
    return {
        "run": name,
        "decisions": len(train),
        "served_auc": site["served_auc"],
        "candidate_auc": "{} [{:.3f}, {:.3f}]".format(site["candidate_auc"], *site["candidate_auc_95_interval"]),
        "gain": site["difference"],
        "gain_95": "[{:.3f}, {:.3f}]".format(*site["difference_95_interval"]),
        "gate": report["status"],
        "worst_standard_change": f"{worst[0]} {worst[1]['change']:+.4f}",
        "toxicity_ece": report["gate"]["calibration"].get("toxicity_ece"),
        "seconds": round(time.perf_counter() - started, 1),
        "_report": report,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--dev-limit", type=int, default=300)
    parser.add_argument("--work", type=Path, default=None, help="versions root (default: a temporary folder)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="only the 1,000-decision row, per seed")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    labels = site_labels(args.data)
    cut = int(round(len(labels) * (1 - HELD_OUT)))
    arriving, held = labels[:cut], labels[cut:]
    root = args.work or Path(tempfile.mkdtemp(prefix="moderato-learning-"))
    base = Predictor(args.model)
    opts = LearnOptions("fox", args.model, root, args.data, gate=GateOptions(dev_limit=args.dev_limit))
    if args.seeds is not None:
        seeded = [
            run_one(f"site residual, seed {s}", arriving[:1000], held, replace(opts, seed=s), base) for s in args.seeds
        ]
        table = [{k: v for k, v in r.items() if not k.startswith("_")} for r in seeded]
        print_table(table)
        print(f"wrote {write_result('learning_seeds', table, {'reports': [r['_report'] for r in seeded]})}")
        if args.work is None:
            shutil.rmtree(root, ignore_errors=True)
        return
    runs = []
    for n in STEPS:
        runs.append(run_one("site residual", arriving[:n], held, opts, base))
    for trainable in ("head", "last"):
        mode = replace(opts, trainable=trainable, steps=300, batch=64)
        runs.append(run_one(f"whole head ({trainable})", arriving[:1000], held, mode, base))
    noise = flipped(labels, seed=7)
    runs.append(run_one("adversarial (coin-flip labels)", noise[:1000], noise[cut:], opts, base))
    runs[-1]["decisions"] = "1000 (flipped)"
    table = [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]
    print_table(table)
    extra = {
        "site": f"{SITE}: {len(labels)} comments in file order; held out: the newest {len(held)} "
        f"({sum(label.toxic for label in held)} hateful)",
        "served_auc_95_interval_on_held_out": runs[0]["_report"]["gate"]["site"]["served_auc_95_interval"],
        "reports": [r["_report"] for r in runs],
    }
    path = write_result("learning", table, extra)
    card = args.model / "learning-metrics.json"
    card.write_text(json.dumps(json.loads(path.read_text()), indent=2) + "\n")
    print(f"wrote {path} and {card}")
    if args.work is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
