"""Retune the toxicity and span heads of a shipped model on its frozen encoder.

A full training run moves the encoder, and with it stance: two runs that added the threat templates learned threats
but lost stance on comments (model card). Here the encoder and the stance head stay exactly as they were, so stance
is bit-identical to the starting model, and only the two small heads learn, from the same source mix as training
(threat templates included). A few hundred steps of forward passes: minutes on two cores, not an hour.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from service.model.checkpoint import load_model, load_tokenizer, save_model
from service.model.network import ModeratoNet
from service.training import calibration
from service.training.data import ToxicityExample
from service.training.schedules import warmup_times_linear_decay
from service.training.train import (
    TOXICITY_WEIGHTS,
    Losses,
    Sampler,
    resume_state,
    save_state,
    toxicity_backward,
    toxicity_train_pools,
)

log = logging.getLogger(__name__)

# The training mix plus the threat templates (service/model/threats.py), which only this stage sees. On moderato-v2's
# encoder, threat ROC-AUC on the held-out templates: 0.856 before; 0.912 with a 0.03 share, 600 steps at lr 3e-4;
# 0.943-0.953 with 0.06, 1,000 steps at 5e-4 (the defaults); 0.974 once the look-alikes held reports of violence.
HEAD_TUNING_WEIGHTS = {**TOXICITY_WEIGHTS, "threat_templates": 0.06}
# moderato-v8: plain insults as clear positives (service/training/insults.py), with Toxic Spans' subtypes read as
# "seen by enough raters" (data.seen_share); the scale sites' Perspective thresholds need (model card).
HEAD_TUNING_WEIGHTS["insult_templates"] = 0.04


@dataclass
class HeadTuningOptions:
    """
    :param start: the model folder whose encoder and stance head are kept.
    :param out: the new model folder; its checkpoint goes in ``out/checkpoint``.
    """

    data: Path
    start: Path
    out: Path
    version: str
    steps: int = 1000
    batch: int = 32
    max_tokens: int = 96
    lr: float = 5e-4
    warmup_steps: int = 50
    seed: int = 21
    checkpoint_every: int = 100
    limit_per_source: int | None = None
    weights: dict[str, float] = field(default_factory=lambda: dict(HEAD_TUNING_WEIGHTS))
    # more training sources beside the base mix, drawn by their ``weights`` (bench/head_sources.py measures some)
    extra_sources: dict[str, list[ToxicityExample]] = field(default_factory=dict)


def tuned_heads(net: ModeratoNet) -> list[nn.Module]:
    return [net.toxicity_head, net.span_head]


def freeze_all_but_heads(net: ModeratoNet) -> list[nn.Parameter]:
    """Freeze everything, then unfreeze the toxicity and span heads; returns their parameters."""
    net.requires_grad_(False)
    params: list[nn.Parameter] = []
    for head in tuned_heads(net):
        head.requires_grad_(True)
        params += list(head.parameters())
    net.eval()  # the frozen encoder runs without dropout; the heads' own dropout is switched on below
    for head in tuned_heads(net):
        head.train()
    return params


def tune_heads(opts: HeadTuningOptions) -> Path:
    """Load ``opts.start``, retune its toxicity and span heads, and write ``opts.out``; resumable."""
    torch.manual_seed(opts.seed)
    net, config = load_model(opts.start)
    tokenizer = load_tokenizer()
    pools = {**toxicity_train_pools(opts.data, opts.limit_per_source), **opts.extra_sources}
    sampler = Sampler(pools, opts.weights, opts.seed)
    params = freeze_all_but_heads(net)
    optimizer = torch.optim.AdamW(params, lr=opts.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_times_linear_decay(opts.warmup_steps, opts.steps))
    losses = Losses(config.stance_train_prior)  # only its toxicity and span losses are used
    ckpt = opts.out / "checkpoint" / "head_state.pt"
    start = resume_state(ckpt, net, optimizer, scheduler, sampler)
    log.info("tuning the toxicity and span heads of %s from step %d of %d", opts.start, start, opts.steps)
    bar = tqdm(range(start, opts.steps), initial=start, total=opts.steps, desc="heads", unit="step")
    running: dict[str, float] = {}
    for step in bar:
        optimizer.zero_grad(set_to_none=True)
        tox, span = toxicity_backward(net, tokenizer, sampler.draw(opts.batch), opts.max_tokens, losses)
        for name, value in (("tox", tox), ("span", span)):
            running[name] = 0.98 * running.get(name, value) + 0.02 * value
        nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        bar.set_postfix({k: f"{v:.3f}" for k, v in running.items()})
        if (step + 1) % opts.checkpoint_every == 0 or step + 1 == opts.steps:
            save_state(ckpt, step + 1, net, optimizer, scheduler, sampler)
    net.eval()
    config.version = opts.version
    save_model(net, config, opts.out)
    return opts.out


def retune_stance_head(
    data: Path, start: Path, out: Path, version: str, *, steps: int, seed: int = 23, chatter_weight: float | None = None
) -> Path:
    """Continue ``start``'s article stance head alone on stage two's pools (the topicality pairs included), its
    encoder and toxicity and span heads untouched, and write ``out``; resumable. ``chatter_weight``: the share of
    draws from the generated off-topic chatter (stance_tuning.POOL_WEIGHTS' otherwise)."""
    from service.training.data import split_stance, stance_examples
    from service.training.stance_tuning import POOL_WEIGHTS, labelled_prior, stage_two_pools, tune_stance_head

    weights = POOL_WEIGHTS | ({} if chatter_weight is None else {"topicality_unrelated": chatter_weight})
    from service.training.train import stance_class_weights, stance_pool

    torch.manual_seed(seed)
    net, config = load_model(start)
    stance_train = [ex for exs in stance_examples(data).values() for ex in split_stance(exs)[0]]
    pools = stage_two_pools(stance_pool(stance_train, seed), stance_train, seed)
    prior = labelled_prior(pools, weights)
    tune_stance_head(
        net,
        load_tokenizer(),
        pools,
        pool_weights=weights,
        steps=steps,
        batch=32,
        max_tokens=config.max_tokens,
        article_tokens=config.article_tokens,
        seed=seed,
        class_weights=stance_class_weights(prior),
        checkpoint=out / "checkpoint" / "stance_state.pt",
        lr=2e-4,
    )
    net.eval()
    config.version, config.stance_train_prior = version, prior
    save_model(net, config, out)
    return out


def graft_stance_head(into: Path, source: Path, *, out: Path | None = None, version: str | None = None) -> None:
    """Put ``source``'s article stance head (and its training prior) into the model in ``into``, or into a new
    folder ``out`` beside it (its toxicity calibration, which the graft does not touch, copied along). Both must share
    one encoder bit for bit (each was tuned on a frozen copy of the same model), so the heads compose exactly."""
    net, config = load_model(into)
    donor, donor_config = load_model(source)
    mine, theirs = net.trained_state(), donor.trained_state()
    encoder = [name for name in mine if name.startswith("encoder.")]
    if any(not torch.equal(mine[name], theirs[name]) for name in encoder):
        raise ValueError(f"{into} and {source} do not share their encoder: their heads cannot be combined")
    net.stance_head.load_state_dict(donor.stance_head.state_dict())
    config.stance_train_prior = donor_config.stance_train_prior
    config.version = version or config.version
    if out is not None and out.resolve() != into.resolve():
        out.mkdir(parents=True, exist_ok=True)
        for name in calibration.OUTPUTS:
            if (into / name).exists():
                shutil.copyfile(into / name, out / name)
    save_model(net, config, out or into)
