"""Second training stage: the stance head alone, on pairs that look like comments under their own article.

Stage one learns `unrelated` mostly from FNC and ARC, whose unrelated pairs are random pairings, so a short comment
that does not restate the headline looks unrelated. Here the encoder is frozen (toxicity cannot change) and the
stance head sees, beside the labelled pairs:

- VAST comments paired with *other* topics of their own article: on-topic, stance unknown;
- labelled pairs cut to their first sentence: a short on-topic comment stays on-topic.

Those carry only the related/unrelated part of the loss, ``-log(1 - p(unrelated))``.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from service.model.checkpoint import save_atomically
from service.model.labels import STANCE_INDEX, STANCES
from service.model.network import ModeratoNet
from service.system import cpu_has_bf16
from service.training.batches import tokenize
from service.training.data import StanceExample
from service.training.schedules import warmup_times_linear_decay
from service.training.topicality import topicality_pairs

log = logging.getLogger(__name__)

RELATED = -1  # label of a pair known to be on-topic, stance unknown
UNRELATED = STANCE_INDEX["unrelated"]
POOL_WEIGHTS = {
    "vast": 0.35,
    "arc": 0.25,
    "fnc": 0.15,
    "vast_related": 0.25,
    # generated reactions and chatter (service/training/topicality.py): an insult under a story is on-topic
    "topicality_related": 0.10,
    "topicality_unrelated": 0.06,
}
ON_TOPIC_POOLS = ("vast_related", "topicality_related")  # stance unknown: only the on-topic part of the loss
TOPICALITY_PAIRS = 3000
SHORTEN_P = 0.35  # share of drawn pairs cut to their first sentence
STANCE_WARMUP_STEPS = 50


def related_pairs(train: list[StanceExample]) -> list[StanceExample]:
    """VAST comments with the other (real, not synthetic) topics of their own article."""
    topics: dict[str, set[str]] = {}
    for ex in train:
        if ex.source == "vast" and ex.extra.get("topic_type") != "synthetic":
            topics.setdefault(ex.extra["split_key"], set()).add(ex.claim)
    out = []
    for ex in train:
        if ex.source != "vast" or ex.extra.get("topic_type") == "synthetic":
            continue
        for topic in sorted(topics[ex.extra["split_key"]] - {ex.claim})[:3]:
            out.append(StanceExample(ex.text, topic, RELATED, "vast_related", ex.extra))
    return out


def first_sentence(text: str) -> str | None:
    """The opening sentence, if it is a real sentence shorter than the text."""
    match = re.match(r"\s*(.+?[.!?])(\s|$)", text)
    if not match:
        return None
    sentence = match.group(1)
    return sentence if len(sentence.split()) >= 4 and len(sentence) < len(text.strip()) else None


def shortened(ex: StanceExample) -> StanceExample:
    """The pair cut to the comment's first sentence; its stance is no longer known, only whether it is on-topic."""
    sentence = first_sentence(ex.text)
    if sentence is None:
        return ex
    return replace(ex, text=sentence, label=ex.label if ex.label == UNRELATED else RELATED)


def stance_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted cross-entropy on labelled pairs plus the on-topic loss on RELATED pairs."""
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    labelled = labels >= 0
    total = logits.new_zeros(())
    if labelled.any():
        total = total + nn.functional.nll_loss(log_probs[labelled], labels[labelled], weight=weights)
    related = labels == RELATED
    if related.any():
        p_unrelated = log_probs[related, UNRELATED].exp().clamp(max=1 - 1e-6)
        total = total + (-torch.log1p(-p_unrelated)).mean()
    return total


def tune_stance_head(
    net: ModeratoNet,
    tokenizer: Any,
    pools: dict[str, list[StanceExample]],
    *,
    steps: int,
    batch: int,
    max_tokens: int,
    article_tokens: int,
    seed: int,
    class_weights: torch.Tensor,
    checkpoint: Path,
    lr: float = 5e-4,
    pool_weights: dict[str, float] = POOL_WEIGHTS,
) -> None:
    """Train only ``net.stance_head`` for ``steps`` steps (resumable from ``checkpoint``), drawing each pool with
    ``pool_weights``."""
    net.requires_grad_(False)
    head = net.stance_head
    head.requires_grad_(True)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_times_linear_decay(STANCE_WARMUP_STEPS, steps))
    names = [n for n in pool_weights if pools.get(n)]
    probs = np.array([pool_weights[n] for n in names])
    rng = np.random.default_rng(seed)
    start = 0
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        head.load_state_dict(state["head"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        rng.bit_generator.state = state["rng"]
        start = int(state["step"])
    net.eval()  # frozen encoder without dropout; the head's own dropout stays on below
    head.train()
    running = None
    bf16 = cpu_has_bf16()  # emulated bf16 on a CPU without it is ~30x slower than fp32
    for step in tqdm(range(start, steps), initial=start, total=steps, desc="stance head", unit="step"):
        sources = rng.choice(len(names), size=batch, p=probs / probs.sum())
        drawn = [pools[names[s]][rng.integers(len(pools[names[s]]))] for s in sources]
        drawn = [shortened(ex) if rng.random() < SHORTEN_P else ex for ex in drawn]
        comments = tokenize(tokenizer, [ex.text for ex in drawn], max_tokens)
        claims = tokenize(tokenizer, [ex.claim for ex in drawn], article_tokens)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            comment = net.encode(comments.input_ids, comments.attention_mask)
            claim = net.encode(claims.input_ids, claims.attention_mask)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = net.stance_logits(comment, claim)
        loss = stance_loss(logits, torch.tensor([ex.label for ex in drawn]), class_weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(head.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 100 == 0 or step + 1 == steps:
            save_atomically(
                {
                    "step": step + 1,
                    "head": head.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng": rng.bit_generator.state,
                },
                checkpoint,
            )
    log.info("stance head tuned for %d steps (running loss %.3f)", steps - start, running or 0.0)


def stage_two_pools(
    pools: dict[str, list[StanceExample]], train: list[StanceExample], seed: int
) -> dict[str, list[StanceExample]]:
    out = dict(pools)
    related = related_pairs(train)
    random.Random(seed).shuffle(related)
    out["vast_related"] = related
    claims = sorted({ex.claim for ex in train})
    generated = topicality_pairs(claims, TOPICALITY_PAIRS, seed, RELATED, UNRELATED)
    for name in ("topicality_related", "topicality_unrelated"):
        out[name] = [ex for ex in generated if ex.source == name]
    return out


def labelled_prior(pools: dict[str, list[StanceExample]], pool_weights: dict[str, float] = POOL_WEIGHTS) -> list[float]:
    """Stance frequencies of the labelled pairs as stage two samples them (the prior its logits fit)."""
    total = sum(pool_weights[n] for n in pools if n in pool_weights and n not in ON_TOPIC_POOLS)
    prior = np.zeros(len(STANCES))
    for name, pool in pools.items():
        if name in ON_TOPIC_POOLS or name not in pool_weights or not pool:
            continue
        counts = np.bincount([ex.label for ex in pool], minlength=len(STANCES))
        prior += pool_weights[name] / total * counts / counts.sum()
    return [float(p) for p in prior]
