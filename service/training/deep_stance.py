"""Design (b) of the stance question, measured beside the cross-encoded pass: a deeper interaction on the existing
comment pass. The comment's and the target's token states come from moderato-v4's frozen encoder (the comment's
are the ones toxicity already computes; the target's are cached per article), and several layers of
cross-attention (comment to target) and self-attention read them together. Only this head is trained, on the
same pairs and grouped splits as the cross-encoded pass (service/training/stance_pairs.py).

`moderato measure-deep-stance` trains it and writes its dev metrics; it is a measurement for the design table in
model_cards/moderato-v5-stance, not a shipped model.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from service.model.checkpoint import load_model, load_tokenizer
from service.model.labels import STANCES
from service.model.network import Encoded
from service.system import cpu_has_bf16
from service.training.cross_stance import SOURCE_WEIGHTS, class_weights
from service.training.schedules import warmup_times_linear_decay
from service.training.stance_eval import COMMENT_SETS, cross_pass_dev_sample, set_metrics
from service.training.stance_pairs import StancePair, load_pairs, split
from service.training.train import Sampler

log = logging.getLogger(__name__)


class DeepStanceHead(nn.Module):
    """``layers`` x (comment attends to target, then to itself, then a feed-forward), pooled, classified."""

    def __init__(self, hidden: int, layers: int = 3, heads: int = 6, dropout: float = 0.1) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {
                    "cross": nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True),
                    "self": nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True),
                    "ffn": nn.Sequential(nn.Linear(hidden, 2 * hidden), nn.GELU(), nn.Linear(2 * hidden, hidden)),
                    "n1": nn.LayerNorm(hidden),
                    "n2": nn.LayerNorm(hidden),
                    "n3": nn.LayerNorm(hidden),
                }
            )
            for _ in range(layers)
        )
        self.classify = nn.Sequential(
            nn.Linear(3 * hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, len(STANCES))
        )

    def forward(self, comment: Encoded, target: Encoded) -> torch.Tensor:
        x = comment.states
        pad_c, pad_t = comment.mask == 0, target.mask == 0
        for block in self.blocks:
            b = cast(nn.ModuleDict, block)
            x = b["n1"](x + b["cross"](x, target.states, target.states, key_padding_mask=pad_t, need_weights=False)[0])
            x = b["n2"](x + b["self"](x, x, x, key_padding_mask=pad_c, need_weights=False)[0])
            x = b["n3"](x + b["ffn"](x))
        u, v = Encoded(x, comment.mask).pooled(), target.pooled()
        return self.classify(torch.cat([u, v, u * v], dim=-1))


@dataclass
class DeepStanceOptions:
    data: Path
    model: Path
    out: Path
    steps: int = 1500
    batch: int = 16
    lr: float = 5e-4
    seed: int = 31
    dev_limit: int = 1000


def _encode(encoder: Any, tokenizer: Any, texts: list[str], max_tokens: int) -> Encoded:
    enc = tokenizer(texts, truncation=True, max_length=max_tokens, padding=True, return_tensors="pt")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_bf16()):
        states = encoder(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).last_hidden_state
    return Encoded(states.float(), enc["attention_mask"])


def measure_deep_stance(opts: DeepStanceOptions) -> dict[str, Any]:
    torch.manual_seed(opts.seed)
    net, config = load_model(opts.model)
    encoder = net.encoder.eval()
    tokenizer = load_tokenizer()
    sets = load_pairs(opts.data)
    pools = {name: split(pairs)[0] for name, pairs in sets.items()}
    weights, _ = class_weights(pools)
    head = DeepStanceHead(encoder.config.hidden_size)
    sampler = Sampler(pools, SOURCE_WEIGHTS, opts.seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=opts.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_times_linear_decay(100, opts.steps))
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    started = time.monotonic()
    head.train()
    for step in range(1, opts.steps + 1):
        batch: list[StancePair] = sampler.draw(opts.batch)
        comment = _encode(encoder, tokenizer, [p.text for p in batch], config.max_tokens)
        target = _encode(encoder, tokenizer, [p.target for p in batch], config.article_tokens)
        loss = loss_fn(head(comment, target), torch.tensor([p.label for p in batch]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if step % 100 == 0:
            log.info(
                "deep stance step %d/%d loss %.3f (%.2f s/step)",
                step,
                opts.steps,
                loss.item(),
                (time.monotonic() - started) / step,
            )
    head.eval()
    out: dict[str, Any] = {
        "design": "(b) 3 x (cross + self attention) on frozen moderato-v4 token states",
        "steps": opts.steps,
        "train_s": round(time.monotonic() - started),
    }
    for source, pairs in sets.items():
        dev = cross_pass_dev_sample(pairs, opts.dev_limit)  # frozen moderato-v4 states: rows v4 held out
        logits = []
        for start in range(0, len(dev), 64):
            chunk = dev[start : start + 64]
            with torch.no_grad():
                comment = _encode(encoder, tokenizer, [p.text for p in chunk], config.max_tokens)
                target = _encode(encoder, tokenizer, [p.target for p in chunk], config.article_tokens)
                logits.append(head(comment, target).float().numpy())
        out[source] = set_metrics(source, np.array([p.label for p in dev]), np.concatenate(logits))
    out["comment_sets_mean_polarity_macro_f1"] = round(
        float(np.mean([out[s]["polarity_macro_f1"] for s in COMMENT_SETS])), 4
    )
    opts.out.write_text(json.dumps(out, indent=2) + "\n")
    return out
