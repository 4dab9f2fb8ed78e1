"""Multi-task fine-tuning: toxicity attributes, toxic spans and stance on one encoder.

Each step draws one toxicity batch (sources mixed by ``TOXICITY_WEIGHTS``) and one stance batch (by
``STANCE_WEIGHTS``), both with fixed seeds. Training runs under bf16 autocast with fp32 master weights where the CPU
has bf16 natively (emulated, it is ~30x slower than fp32), and writes a checkpoint every ``checkpoint_every``
steps from which an interrupted run resumes exactly where it was.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from service.model.checkpoint import ModelConfig, build_network, load_model, load_tokenizer, save_atomically, save_model
from service.model.labels import STANCE_INDEX, STANCES
from service.model.network import ModeratoNet
from service.system import cpu_has_bf16
from service.training.batches import IGNORE, span_token_labels, tokenize
from service.training.data import (
    StanceExample,
    ToxicityExample,
    split_stance,
    split_toxicity,
    stance_examples,
    toxicity_examples,
)
from service.training.stance_tuning import labelled_prior, stage_two_pools, tune_stance_head

log = logging.getLogger(__name__)

# Share of each toxicity batch per source. News comments (civil, tsd, ucc, arc_civil) carry most of the weight;
# tweets teach profanity and slurs; identity sets and templates keep identity words from meaning "toxic".
TOXICITY_WEIGHTS = {
    "civil": 0.22,
    "tsd": 0.16,
    "olid": 0.12,
    "davidson": 0.06,
    "ucc": 0.13,
    "wiki_identity": 0.07,
    "toxigen": 0.07,
    "identity_templates": 0.06,
    "arc_civil": 0.12,
    # moderators' own decisions on this site, once exported into the data folder (`moderato export-labels`)
    "moderator_labels": 0.10,
}
# Fine-tuning a shipped model (``--start``) on news comments: UCC (Globe and Mail comments, the only civil news
# comments with hostility labels) gets a larger share, and the threat templates the start's heads were tuned on stay
# in the mix so the threat skill is not trained away.
NEWS_FINE_TUNING_WEIGHTS = {**TOXICITY_WEIGHTS, "ucc": 0.22, "threat_templates": 0.06}
# The threat templates are learned in a later stage, on the frozen encoder (service/model/head_tuning.py): two runs
# that mixed them in here learned threats but lost stance on comments (model card, "Changes from v2").
# VAST (reader comments on a topic) is the closest to the job; FNC and ARC add news bodies and posts.
STANCE_WEIGHTS = {"vast": 0.4, "arc": 0.3, "fnc": 0.3}
# Random pairings dominate FNC and ARC; keep only this share of their `unrelated` pairs.
UNRELATED_KEEP = {"fnc": 0.3, "arc": 0.45, "vast": 1.0}
# Texts per forward chunk inside a step: sorted by length, so short comments are not padded to long ones.
LENGTH_CHUNK = 8


@dataclass
class TrainOptions:
    """
    :param data: folder laid out as the shared data README describes.
    :param out: model folder to write (config.json, weights.safetensors); checkpoints go in ``out/checkpoint``.
    """

    data: Path
    out: Path
    version: str
    steps: int = 1800
    toxicity_batch: int = 32
    stance_batch: int = 16
    max_tokens: int = 96
    article_tokens: int = 64
    frozen_layers: int = 2
    encoder_lr: float = 1e-4
    head_lr: float = 1e-3
    warmup_steps: int = 150
    seed: int = 13
    checkpoint_every: int = 100
    limit_per_source: int | None = None
    stance_steps: int = 800  # second stage: the stance head alone (service/model/stance_tuning.py)
    stance_tuning_batch: int = 32
    # A shipped model to continue from (its frozen layers, encoder and heads) instead of the base encoder; it
    # trains on NEWS_FINE_TUNING_WEIGHTS, at the learning rates given here.
    start: Path | None = None


class Sampler:
    """Draws examples by source weight from a seeded generator whose state is checkpointed."""

    def __init__(self, pools: dict[str, list[Any]], weights: dict[str, float], seed: int) -> None:
        self.names = [n for n in weights if pools.get(n)]
        total = sum(weights[n] for n in self.names)
        self.probs = np.array([weights[n] / total for n in self.names])
        self.pools = pools
        self.rng = np.random.default_rng(seed)

    def draw(self, n: int) -> list[Any]:
        sources = self.rng.choice(len(self.names), size=n, p=self.probs)
        return [self.pools[self.names[s]][self.rng.integers(len(self.pools[self.names[s]]))] for s in sources]


def stance_pool(train: list[StanceExample], seed: int) -> dict[str, list[StanceExample]]:
    rng = random.Random(seed)
    pools: dict[str, list[StanceExample]] = {}
    for ex in train:
        if ex.label == STANCE_INDEX["unrelated"] and rng.random() > UNRELATED_KEEP[ex.source]:
            continue
        pools.setdefault(ex.source, []).append(ex)
    return pools


def mixture_prior(pools: dict[str, list[StanceExample]]) -> list[float]:
    """Stance label frequencies as the sampler will see them."""
    total = sum(STANCE_WEIGHTS[s] for s in pools)
    prior = np.zeros(len(STANCES))
    for source, pool in pools.items():
        counts = np.bincount([ex.label for ex in pool], minlength=len(STANCES))
        prior += STANCE_WEIGHTS[source] / total * counts / counts.sum()
    return [float(p) for p in prior]


def stance_class_weights(prior: list[float]) -> torch.Tensor:
    """Class weights ~ 1/sqrt(frequency): rare `discuss` and `disagree` count more without swamping the rest."""
    weights = torch.tensor([1 / math.sqrt(max(p, 1e-3)) for p in prior])
    return weights / weights.mean()


class Losses:
    """The three task losses on one step's batches."""

    def __init__(self, stance_prior: list[float]) -> None:
        self.stance = nn.CrossEntropyLoss(weight=stance_class_weights(stance_prior))
        self.span_type = nn.CrossEntropyLoss(ignore_index=IGNORE)

    def toxicity(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        known = ~torch.isnan(targets)
        return nn.functional.binary_cross_entropy_with_logits(logits[known], targets[known])

    def spans(self, logits: torch.Tensor, toxic: torch.Tensor, types: torch.Tensor) -> torch.Tensor:
        known = toxic != IGNORE
        if not known.any():
            return logits.sum() * 0.0
        toxic_loss = nn.functional.binary_cross_entropy_with_logits(
            logits[..., 0][known], toxic[known].float(), pos_weight=torch.tensor(2.0)
        )
        if (types != IGNORE).any():
            toxic_loss = toxic_loss + 0.5 * self.span_type(
                logits[..., 1:].reshape(-1, logits.shape[-1] - 1), types.reshape(-1)
            )
        return toxic_loss


def by_length(batch: list[Any], length: Any, chunk: int) -> list[list[Any]]:
    """Split a batch into chunks of similar length, so each chunk pads only to its own longest text."""
    ordered = sorted(batch, key=length)
    return [ordered[i : i + chunk] for i in range(0, len(ordered), chunk)]


def toxicity_step(
    net: ModeratoNet, tokenizer: Any, batch: list[ToxicityExample], max_tokens: int, losses: Losses
) -> tuple[torch.Tensor, torch.Tensor]:
    tokens = tokenize(tokenizer, [ex.text for ex in batch], max_tokens)
    labels = [span_token_labels(off, len(ex.text), ex.spans) for off, ex in zip(tokens.offsets, batch, strict=True)]
    toxic = torch.tensor([lab[0] for lab in labels])
    types = torch.tensor([lab[1] for lab in labels])
    targets = torch.tensor([ex.targets for ex in batch], dtype=torch.float32)
    encoded = net.encode(tokens.input_ids, tokens.attention_mask)
    tox = losses.toxicity(net.toxicity_logits(encoded).float(), targets)
    span = losses.spans(net.span_logits(encoded).float(), toxic, types)
    return tox, span


def stance_step(
    net: ModeratoNet, tokenizer: Any, batch: list[StanceExample], opts: TrainOptions, losses: Losses
) -> torch.Tensor:
    comments = tokenize(tokenizer, [ex.text for ex in batch], opts.max_tokens)
    claims = tokenize(tokenizer, [ex.claim for ex in batch], opts.article_tokens)
    logits = net.stance_logits(
        net.encode(comments.input_ids, comments.attention_mask), net.encode(claims.input_ids, claims.attention_mask)
    )
    return losses.stance(logits.float(), torch.tensor([ex.label for ex in batch]))


def _accumulate(
    net: ModeratoNet,
    tokenizer: Any,
    tox_batch: list[ToxicityExample],
    st_batch: list[StanceExample],
    opts: TrainOptions,
    losses: Losses,
) -> tuple[float, float, float]:
    """Forward and backward one step in length-sorted chunks (gradients accumulate); returns the mean losses."""
    tox, span = toxicity_backward(net, tokenizer, tox_batch, opts.max_tokens, losses)
    st_chunks = by_length(st_batch, lambda ex: len(ex.text), LENGTH_CHUNK)
    stance_total = 0.0
    for chunk in st_chunks:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_bf16()):
            stance = stance_step(net, tokenizer, chunk, opts, losses)
        (stance / len(st_chunks)).backward()
        stance_total += stance.item() / len(st_chunks)
    return tox, span, stance_total


def toxicity_backward(
    net: ModeratoNet, tokenizer: Any, batch: list[ToxicityExample], max_tokens: int, losses: Losses
) -> tuple[float, float]:
    """Forward and backward a toxicity batch in length-sorted chunks (gradients accumulate); the mean losses."""
    chunks = by_length(batch, lambda ex: len(ex.text), LENGTH_CHUNK)
    totals = [0.0, 0.0]
    for chunk in chunks:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_has_bf16()):
            tox, span = toxicity_step(net, tokenizer, chunk, max_tokens, losses)
        ((tox + span) / len(chunks)).backward()
        totals[0] += tox.item() / len(chunks)
        totals[1] += span.item() / len(chunks)
    return totals[0], totals[1]


def _optimizer(net: ModeratoNet, opts: TrainOptions) -> torch.optim.Optimizer:
    encoder = [p for n, p in net.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    heads = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    return torch.optim.AdamW(
        [{"params": encoder, "lr": opts.encoder_lr}, {"params": heads, "lr": opts.head_lr}], weight_decay=0.01
    )


def _schedule(opts: TrainOptions) -> Any:
    def factor(step: int) -> float:
        if step < opts.warmup_steps:
            return (step + 1) / opts.warmup_steps
        return max(0.0, (opts.steps - step) / max(1, opts.steps - opts.warmup_steps))

    return factor


def _limit(pools: dict[str, list[Any]], limit: int | None) -> dict[str, list[Any]]:
    return {k: v[:limit] for k, v in pools.items()} if limit else pools


def toxicity_train_pools(data: Path, limit: int | None = None) -> dict[str, list[ToxicityExample]]:
    """Each toxicity source's training split (at most ``limit`` rows each, for smoke runs)."""
    return _limit({name: split_toxicity(exs)[0] for name, exs in toxicity_examples(data).items()}, limit)


def train(opts: TrainOptions) -> Path:
    """Train (or resume) and write the shipped model folder; returns it."""
    torch.manual_seed(opts.seed)
    tokenizer = load_tokenizer()
    tox_pools = toxicity_train_pools(opts.data, opts.limit_per_source)
    stance_train = [ex for exs in stance_examples(opts.data).values() for ex in split_stance(exs)[0]]
    st_pools = _limit(stance_pool(stance_train, opts.seed), opts.limit_per_source)
    prior = mixture_prior(st_pools)
    losses = Losses(prior)
    net, frozen_layers = _starting_network(opts)
    net.train()
    optimizer = _optimizer(net, opts)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(opts))
    tox_sampler = Sampler(tox_pools, NEWS_FINE_TUNING_WEIGHTS if opts.start else TOXICITY_WEIGHTS, opts.seed)
    st_sampler = Sampler(st_pools, STANCE_WEIGHTS, opts.seed + 1)
    ckpt = opts.out / "checkpoint" / "train_state.pt"
    start = resume_state(ckpt, net, optimizer, scheduler, tox_sampler, st_sampler)
    log.info("training %s from step %d of %d; stance prior %s", opts.version, start, opts.steps, prior)
    bar = tqdm(range(start, opts.steps), initial=start, total=opts.steps, desc="train", unit="step")
    running: dict[str, float] = {}
    started = time.perf_counter()
    for step in bar:
        optimizer.zero_grad(set_to_none=True)
        tox, span, stance = _accumulate(
            net, tokenizer, tox_sampler.draw(opts.toxicity_batch), st_sampler.draw(opts.stance_batch), opts, losses
        )
        nn.utils.clip_grad_norm_([p for p in net.parameters() if p.requires_grad], 1.0)
        optimizer.step()
        scheduler.step()
        for name, value in (("tox", tox), ("span", span), ("stance", stance)):
            running[name] = 0.98 * running.get(name, float(value)) + 0.02 * float(value)
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        if (step + 1) % opts.checkpoint_every == 0 or step + 1 == opts.steps:
            save_state(ckpt, step + 1, net, optimizer, scheduler, tox_sampler, st_sampler)
    log.info("trained %d steps in %.0f s", opts.steps - start, time.perf_counter() - started)
    if opts.stance_steps:
        pools = stage_two_pools(st_pools, stance_train, opts.seed)
        prior = labelled_prior(pools)
        tune_stance_head(
            net,
            tokenizer,
            pools,
            steps=opts.stance_steps,
            batch=opts.stance_tuning_batch,
            max_tokens=opts.max_tokens,
            article_tokens=opts.article_tokens,
            seed=opts.seed + 2,
            class_weights=stance_class_weights(prior),
            checkpoint=ckpt.parent / "stance_state.pt",
        )
    net.eval()
    config = ModelConfig(version=opts.version, frozen_layers=frozen_layers, stance_train_prior=prior)
    save_model(net, config, opts.out)
    return opts.out


def _starting_network(opts: TrainOptions) -> tuple[ModeratoNet, int]:
    """The base encoder with fresh heads, or the ``opts.start`` model (which keeps its own frozen layers)."""
    if opts.start is None:
        return build_network(opts.frozen_layers), opts.frozen_layers
    net, config = load_model(opts.start)
    net.freeze_base()
    log.info("continuing from %s (%d frozen layers)", config.version, config.frozen_layers)
    return net, config.frozen_layers


def save_state(path: Path, step: int, net: ModeratoNet, optimizer: Any, scheduler: Any, *samplers: Sampler) -> None:
    state = {
        "step": step,
        "net": net.trained_state(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "samplers": [s.rng.bit_generator.state for s in samplers],
        "torch_rng": torch.get_rng_state(),
    }
    save_atomically(state, path)


def resume_state(path: Path, net: ModeratoNet, optimizer: Any, scheduler: Any, *samplers: Sampler) -> int:
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    net.load_state_dict(state["net"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    for sampler, rng_state in zip(samplers, state["samplers"], strict=True):
        sampler.rng.bit_generator.state = rng_state
    torch.set_rng_state(state["torch_rng"])
    log.info("resumed from %s at step %d", path, state["step"])
    return int(state["step"])
