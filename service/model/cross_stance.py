"""The cross-encoded stance pass: the target (an article's claim, or a parent comment) and the comment read as one
sequence by the shared encoder with low-rank adapters, then a small classifier. Toxicity and spans never see this
pass: they stay on the comment-alone pass.

A stance model is a folder of its own (``stance_config.json`` + ``stance.safetensors``): the adapters, the head, and
the version of the model whose encoder they adapt (checked at load).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from service.model.labels import STANCES
from service.model.network import Encoded

CONFIG_FILE = "stance_config.json"
WEIGHTS_FILE = "stance.safetensors"


@dataclass
class CrossStanceConfig:
    version: str
    encoder_version: str  # the model whose encoder the adapters were trained on
    rank: int = 16
    alpha: float = 32.0
    max_tokens: int = 160
    target_tokens: int = 64  # the target's share when a pair is too long (the comment keeps the rest)
    stances: list[str] = field(default_factory=lambda: list(STANCES))
    train_prior: list[float] = field(default_factory=lambda: [0.25] * len(STANCES))
    # Per-class logit offsets chosen on the dev splits (see the model card), added before the softmax.
    logit_offsets: list[float] = field(default_factory=lambda: [0.0] * len(STANCES))


def encode_pairs(tokenizer: Any, targets: list[str], texts: list[str], config: CrossStanceConfig) -> Any:
    """Target then text in one sequence: the target is cut to its share first, the text keeps the rest. Training
    and serving both build their pairs here, so the two cannot cut them differently."""
    short = tokenizer(targets, truncation=True, max_length=config.target_tokens, add_special_tokens=False)
    cut = [tokenizer.decode(ids) for ids in short["input_ids"]]
    return tokenizer(
        cut, texts, truncation="only_second", max_length=config.max_tokens, padding=True, return_tensors="pt"
    )


class CrossStanceHead(nn.Module):
    """[CLS] and mean-pooled states of the joint sequence -> stance logits."""

    def __init__(self, hidden: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.classify = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(2 * hidden, hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, len(STANCES)),
        )

    def forward(self, joint: Encoded) -> torch.Tensor:
        return self.classify(torch.cat([joint.states[:, 0], joint.pooled()], dim=-1))


def save(folder: Path, config: CrossStanceConfig, adapters: dict[str, torch.Tensor], head: CrossStanceHead) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    state = {f"adapter.{k}": v.to(torch.float16).contiguous() for k, v in adapters.items()}
    state |= {f"head.{k}": v.detach().to(torch.float16).contiguous() for k, v in head.state_dict().items()}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"version": config.version})
    (folder / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n")


def read_config(folder: Path) -> CrossStanceConfig:
    return CrossStanceConfig(**json.loads((folder / CONFIG_FILE).read_text()))


def load(folder: Path, hidden: int) -> tuple[CrossStanceConfig, dict[str, torch.Tensor], CrossStanceHead]:
    config = read_config(folder)
    if config.stances != list(STANCES):
        raise ValueError(f"{folder} was trained for stances {config.stances}, this code uses {list(STANCES)}")
    state = load_file(str(folder / WEIGHTS_FILE))
    head = CrossStanceHead(hidden)
    head.load_state_dict({k[5:]: v.float() for k, v in state.items() if k.startswith("head.")})
    head.eval()
    adapters = {k[8:]: v.float() for k, v in state.items() if k.startswith("adapter.")}
    return config, adapters, head


class CrossStance:
    """The stance pass at serving time: the adapters merged into a private copy of the encoder (so the pass costs
    what the plain encoder costs), traced like the comment pass, and the head.

    :param encoder: the encoder the adapters were trained on (``encoder_version``'s), still in fp32 (the copy is
        taken before any bf16 cast).
    """

    def __init__(self, folder: Path, encoder: nn.Module, tokenizer: Any, *, bf16: bool, traced: bool) -> None:
        from service.model.lora import merged_encoder

        hidden: int = encoder.config.hidden_size  # type: ignore[union-attr,assignment]
        self.config, adapters, self.head = load(folder, hidden)
        merged = merged_encoder(encoder, adapters, self.config.rank, self.config.alpha).eval()
        self.tokenizer = tokenizer
        self.bf16 = bf16
        self.encoder = merged
        self.offsets = torch.tensor(self.config.logit_offsets)

    def logits(self, run_encoder: Any, targets: list[str], texts: list[str]) -> torch.Tensor:
        """Stance logits (offsets applied) for (target, text) pairs; ``run_encoder`` runs this pass's encoder."""
        enc = encode_pairs(self.tokenizer, targets, texts, self.config)
        states = run_encoder(enc["input_ids"], enc["attention_mask"])
        return self.head(Encoded(states, enc["attention_mask"])).float() + self.offsets
