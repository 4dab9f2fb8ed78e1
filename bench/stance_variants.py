"""Stance design choice, measured: (a) cross-encoder, one pass over comment + article claim, against (b) late
interaction (Moderato's head), where the comment pass is the toxicity pass and the article is encoded once.

Both start from the base encoder, train the top layers and a stance head for the same steps on the same stance
mixture (the stage-one sampler of service/model/train.py), and are scored on the FNC, ARC and VAST dev splits.
Throughput is comments/s for 32 comments under one article, counting what each design must run per comment.
A probe, not the shipped model: it isolates the design from the rest of training.
Usage: python bench/stance_variants.py --data ../shared/data [--steps 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import print_table, write_result  # noqa: E402
from service.model.checkpoint import build_network, load_tokenizer  # noqa: E402
from service.model.labels import STANCE_INDEX, STANCES  # noqa: E402
from service.model.network import ModeratoNet  # noqa: E402
from service.training.batches import tokenize  # noqa: E402
from service.training.data import split_stance, stance_examples  # noqa: E402
from service.training.metrics import fnc_score, macro_f1  # noqa: E402
from service.training.train import STANCE_WEIGHTS, Losses, Sampler, mixture_prior, stance_pool  # noqa: E402

FROZEN = 3


class CrossHead(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.classify = nn.Sequential(
            nn.Dropout(0.1), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, len(STANCES))
        )

    def forward(self, net: ModeratoNet, tokenizer: Any, texts: list[str], claims: list[str]) -> torch.Tensor:
        enc = tokenizer(claims, texts, truncation="only_second", max_length=160, padding=True, return_tensors="pt")
        encoded = net.encode(enc["input_ids"], enc["attention_mask"])
        return self.classify(encoded.pooled())


def late_logits(net: ModeratoNet, tokenizer: Any, texts: list[str], claims: list[str]) -> torch.Tensor:
    comments, arts = tokenize(tokenizer, texts, 96), tokenize(tokenizer, claims, 64)
    return net.stance_logits(
        net.encode(comments.input_ids, comments.attention_mask), net.encode(arts.input_ids, arts.attention_mask)
    )


def train_variant(kind: str, sampler: Sampler, losses: Losses, tokenizer: Any, steps: int) -> tuple[Any, Any]:
    torch.manual_seed(0)
    net = build_network(FROZEN)
    head = CrossHead(net.encoder.config.hidden_size) if kind == "cross" else None
    params = [p for p in net.parameters() if p.requires_grad] + (list(head.parameters()) if head else [])
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    net.train()
    for _ in range(steps):
        batch = sampler.draw(16)
        texts, claims = [ex.text for ex in batch], [ex.claim for ex in batch]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = head(net, tokenizer, texts, claims) if head else late_logits(net, tokenizer, texts, claims)
        loss = losses.stance(logits.float(), torch.tensor([ex.label for ex in batch]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    net.eval()
    if head:
        head.eval()
    return net, head


def predict(net: ModeratoNet, head: Any, tokenizer: Any, texts: list[str], claims: list[str]) -> list[int]:
    out: list[int] = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        for i in range(0, len(texts), 32):
            t, c = texts[i : i + 32], claims[i : i + 32]
            logits = head(net, tokenizer, t, c) if head else late_logits(net, tokenizer, t, c)
            out += logits.argmax(-1).tolist()
    return out


def throughput(net: ModeratoNet, head: Any, tokenizer: Any, texts: list[str], claim: str) -> float:
    """Comments/s under one article: cross runs comment+claim per comment (and toxicity needs its own pass);
    late interaction runs the comment pass (shared with toxicity) and the head, the article once, cached."""
    times = []
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        cached = tokenize(tokenizer, [claim], 64)
        art = net.encode(cached.input_ids, cached.attention_mask)
        for _ in range(7):
            start = time.perf_counter()
            comments = tokenize(tokenizer, texts, 96)
            encoded = net.encode(comments.input_ids, comments.attention_mask)  # the toxicity pass
            if head:
                head(net, tokenizer, texts, [claim] * len(texts))
            else:
                from service.model.network import Encoded

                net.stance_logits(
                    encoded, Encoded(art.states.expand(len(texts), -1, -1), art.mask.expand(len(texts), -1))
                )
            times.append(time.perf_counter() - start)
    return len(texts) / statistics.median(times[2:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--dev-per-source", type=int, default=800)
    args = parser.parse_args()
    tokenizer = load_tokenizer()
    train, dev = [], []
    for exs in stance_examples(args.data).values():
        tr, dv = split_stance(exs)
        train += tr
        dev += dv[: args.dev_per_source]
    pools = stance_pool(train, 13)
    losses = Losses(mixture_prior(pools))
    rows = []
    texts = [ex.text for ex in dev if ex.source == "vast"][:32]
    for kind in ("cross", "late"):
        started = time.perf_counter()
        net, head = train_variant(kind, Sampler(pools, STANCE_WEIGHTS, 14), losses, tokenizer, args.steps)
        train_s = time.perf_counter() - started
        row: dict[str, Any] = {"design": "(a) cross-encoder" if kind == "cross" else "(b) late interaction"}
        for source in ("fnc", "arc", "vast"):
            rows_ = [ex for ex in dev if ex.source == source]
            claims = [ex.extra.get("headline", ex.claim) for ex in rows_]
            gold = [ex.label for ex in rows_]
            pred = predict(net, head, tokenizer, [ex.text for ex in rows_], claims)
            row[f"{source}_acc"] = round(float(np.mean(np.array(gold) == np.array(pred))), 3)
            row[f"{source}_macro_f1"] = round(macro_f1(gold, pred, range(len(STANCES))), 3)
            if source == "fnc":
                row["fnc_score"] = round(fnc_score(gold, pred), 3)
        row["comments_per_s"] = round(throughput(net, head, tokenizer, texts, dev[0].claim), 1)
        row["train_s"] = round(train_s)
        rows.append(row)
    print(f"{args.steps} steps of 16 pairs each; dev: up to {args.dev_per_source} pairs per source")
    print_table(rows)
    unrelated = STANCE_INDEX["unrelated"]
    print(f"(unrelated = {unrelated}) wrote {write_result('stance_variants', rows, {'steps': args.steps})}")


if __name__ == "__main__":
    main()
