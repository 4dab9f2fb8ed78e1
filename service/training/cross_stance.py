"""`moderato train-stance`: the cross-encoded stance pass, trained as low-rank adapters on a shipped model's encoder
plus a small head, on every stance set (service/training/stance_pairs.py), resumable from ``out/checkpoint``.

The encoder's own weights never change, so the comment-alone pass (toxicity, spans) stays bit-identical; only the
adapters (~1.3 MB in fp16) and the head are new.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from service.model import cross_stance
from service.model.checkpoint import load_model, load_tokenizer, save_atomically
from service.model.cross_stance import CrossStanceConfig, CrossStanceHead, encode_pairs
from service.model.labels import STANCES
from service.model.lora import adapter_state, add_adapters
from service.model.network import Encoded
from service.system import cpu_has_bf16
from service.training.schedules import warmup_times_linear_decay
from service.training.stance_cues import with_openings
from service.training.stance_eval import set_metrics
from service.training.stance_pairs import StancePair, load_pairs, split
from service.training.train import Sampler

log = logging.getLogger(__name__)

# How often each set is drawn. Reader replies and comments (the job) weigh most; FNC's news bodies least.
SOURCE_WEIGHTS = {
    "debagreement": 0.20,
    "subreddit_agreement": 0.08,
    "rumoureval2019": 0.06,
    "perspectrum": 0.14,
    "vast": 0.26,
    "arc": 0.12,
    "fnc": 0.14,
    "ibm_claim_stance": 0.08,  # claims with no reply cues: polarity read from meaning
}


@dataclass
class CrossStanceOptions:
    data: Path
    encoder_model: Path  # the shipped model whose encoder is adapted
    out: Path
    version: str
    steps: int = 3000
    batch: int = 16
    rank: int = 16
    alpha: float = 32.0
    adapter_lr: float = 5e-4
    head_lr: float = 1e-3
    warmup_steps: int = 150
    seed: int = 29
    checkpoint_every: int = 100
    dev_limit: int | None = 1500  # dev pairs per set in the final evaluation
    limit_per_source: int | None = None  # smoke runs
    # Another stance run's folder: start from its last checkpoint and train on to ``steps`` (a longer run; the
    # learning rate restarts where the longer schedule stands). Ignored once this run has a checkpoint of its own.
    continue_from: Path | None = None
    # A shipped stance model's folder: start from its adapters and head with a fresh optimizer and schedule.
    init_from: Path | None = None
    stated_openings: bool = False  # service/training/stance_cues.py's augmentation


def class_weights(pools: dict[str, list[StancePair]]) -> tuple[torch.Tensor, list[float]]:
    total = sum(SOURCE_WEIGHTS[s] for s in pools)
    prior = np.zeros(len(STANCES))
    for source, pool in pools.items():
        counts = np.bincount([p.label for p in pool], minlength=len(STANCES))
        prior += SOURCE_WEIGHTS[source] / total * counts / counts.sum()
    weights = torch.tensor([1 / math.sqrt(max(p, 1e-3)) for p in prior], dtype=torch.float32)
    return weights / weights.mean(), [float(p) for p in prior]


class StanceModel(nn.Module):
    def __init__(self, encoder: nn.Module, head: CrossStanceHead) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(Encoded(states, attention_mask))


def train_cross_stance(opts: CrossStanceOptions) -> Path:
    torch.manual_seed(opts.seed)
    net, base_config = load_model(opts.encoder_model)
    encoder = net.encoder
    encoder.requires_grad_(False)
    adapters = add_adapters(encoder, opts.rank, opts.alpha)
    head = CrossStanceHead(encoder.config.hidden_size)
    model = StanceModel(encoder, head)
    tokenizer = load_tokenizer()
    sets = load_pairs(opts.data)
    pools = {name: split(pairs)[0][: opts.limit_per_source] for name, pairs in sets.items()}
    weights, prior = class_weights(pools)
    config = CrossStanceConfig(opts.version, base_config.version, opts.rank, opts.alpha, train_prior=prior)
    sampler = Sampler(pools, SOURCE_WEIGHTS, opts.seed)
    adapter_params = [p for a in adapters.values() for p in (a.lora_a, a.lora_b)]
    optimizer = torch.optim.AdamW(
        [{"params": adapter_params, "lr": opts.adapter_lr}, {"params": head.parameters(), "lr": opts.head_lr}],
        weight_decay=0.01,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_times_linear_decay(opts.warmup_steps, opts.steps))
    loss_fn = nn.CrossEntropyLoss(weight=weights)
    state_path = opts.out / "checkpoint" / "stance_state.pt"
    if opts.continue_from is not None and not state_path.exists():
        state_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(opts.continue_from / "checkpoint" / "stance_state.pt", state_path)
    if opts.init_from is not None and not state_path.exists():
        _start_from(opts.init_from, adapters, head, encoder.config.hidden_size)
    step = _resume(state_path, adapters, head, optimizer, scheduler, sampler)
    bf16 = cpu_has_bf16()
    model.train()
    started, losses = time.monotonic(), []
    while step < opts.steps:
        batch = sampler.draw(opts.batch)
        if opts.stated_openings:  # seeded by step, so a resumed run draws the same openings
            batch = with_openings(batch, np.random.default_rng((opts.seed, step)))
        enc = encode_pairs(tokenizer, [p.target for p in batch], [p.text for p in batch], config)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(enc["input_ids"], enc["attention_mask"])
        loss = loss_fn(logits.float(), torch.tensor([p.label for p in batch]))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(adapter_params + list(head.parameters()), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        losses.append(loss.item())
        if step % opts.checkpoint_every == 0 or step == opts.steps:
            _save_state(state_path, step, adapters, head, optimizer, scheduler, sampler)
            log.info(
                "stance step %d/%d loss %.3f (%.1f s/step)",
                step,
                opts.steps,
                float(np.mean(losses[-opts.checkpoint_every :])),
                (time.monotonic() - started) / max(1, len(losses)),
            )
    model.eval()
    cross_stance.save(opts.out, config, adapter_state(adapters), head)
    metrics = evaluate_pairs(model, tokenizer, config, sets, opts.dev_limit)
    (opts.out / "stance_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return opts.out


def predict_pairs(model: nn.Module, tokenizer: Any, config: CrossStanceConfig, pairs: list[StancePair]) -> np.ndarray:
    """Stance logits for ``pairs``, length-sorted in batches of 32."""
    out = np.zeros((len(pairs), len(STANCES)), dtype=np.float32)
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i].text) + len(pairs[i].target))
    bf16 = cpu_has_bf16()
    for start in range(0, len(order), 32):
        rows = order[start : start + 32]
        enc = encode_pairs(tokenizer, [pairs[i].target for i in rows], [pairs[i].text for i in rows], config)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(enc["input_ids"], enc["attention_mask"]).float().numpy()
        out[rows] = logits
    return out


def evaluate_pairs(
    model: nn.Module, tokenizer: Any, config: CrossStanceConfig, sets: dict[str, list[StancePair]], limit: int | None
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    out: dict[str, Any] = {"version": config.version, "split": "service/training/stance_pairs.py (grouped)"}
    for source, pairs in sets.items():
        dev = split(pairs)[1]
        if not dev:  # a set too small to hold out a group: nothing to report, and no reason to fail the run
            log.warning("%s: no dev pairs", source)
            continue
        if limit and len(dev) > limit:
            dev = [dev[i] for i in sorted(rng.choice(len(dev), size=limit, replace=False))]
        logits = predict_pairs(model, tokenizer, config, dev)
        out[source] = set_metrics(source, np.array([p.label for p in dev]), logits)
        log.info("%s: %s", source, {k: v for k, v in out[source].items() if k != "confusion"})
    return out


def _start_from(folder: Path, adapters: Any, head: CrossStanceHead, hidden: int) -> None:
    _, state, saved_head = cross_stance.load(folder, hidden)
    for name, adapter in adapters.items():
        adapter.lora_a.data.copy_(state[f"{name}.lora_a"])
        adapter.lora_b.data.copy_(state[f"{name}.lora_b"])
    head.load_state_dict(saved_head.state_dict())
    log.info("started from %s", folder)


def _save_state(
    path: Path, step: int, adapters: Any, head: nn.Module, optimizer: Any, scheduler: Any, sampler: Sampler
) -> None:
    save_atomically(
        {
            "step": step,
            "adapters": adapter_state(adapters),
            "head": head.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "sampler": sampler.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
        },
        path,
    )


def _resume(path: Path, adapters: Any, head: nn.Module, optimizer: Any, scheduler: Any, sampler: Sampler) -> int:
    if not path.exists():
        return 0
    state = torch.load(path, weights_only=False)
    for name, adapter in adapters.items():
        adapter.lora_a.data.copy_(state["adapters"][f"{name}.lora_a"])
        adapter.lora_b.data.copy_(state["adapters"][f"{name}.lora_b"])
    head.load_state_dict(state["head"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    # The saved learning rates are the saved schedule's; a longer run (continue_from) has its own, so the next
    # step takes this schedule's rate for the step it is at (the same number when the schedule is unchanged).
    for group, base, factor in zip(optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True):
        group["lr"] = base * factor(scheduler.last_epoch)
    sampler.rng.bit_generator.state = state["sampler"]
    torch.set_rng_state(state["torch_rng"])
    log.info("resumed from %s at step %d", path, state["step"])
    return int(state["step"])
