"""Low-rank adapters on the shared encoder: a second, stance-reading pass that costs no second copy of the encoder
on disk. The adapter's deltas are ``B @ A`` per adapted Linear; serving merges them into a private copy of the
weights once at load, so the stance pass runs as fast as the plain encoder."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import nn

# The Linear layers of each BERT layer that get an adapter: attention (q, k, v, out) and the feed-forward pair.
ADAPTED = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


class LoRALinear(nn.Module):
    """``base(x) + scale * x A^T B^T`` with ``A`` (rank x in) and ``B`` (out x rank); B starts at zero, so an
    untrained adapter changes nothing."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale

    def merged(self) -> nn.Linear:
        out = copy.deepcopy(self.base)
        with torch.no_grad():
            out.weight += (self.lora_b @ self.lora_a) * self.scale
        return out


def _modules(encoder: nn.Module) -> list[tuple[nn.Module, str, str]]:
    """(parent module, attribute, full name) of every adapted Linear of a BERT encoder."""
    found = []
    layers: Any = encoder.encoder.layer  # type: ignore[union-attr]
    for i, layer in enumerate(layers):
        for path in ADAPTED:
            *parents, attr = path.split(".")
            parent = layer
            for p in parents:
                parent = getattr(parent, p)
            found.append((parent, attr, f"layer.{i}.{path}"))
    return found


def add_adapters(encoder: nn.Module, rank: int, alpha: float) -> dict[str, LoRALinear]:
    """Wrap the encoder's adapted Linears in place; returns them by name (their A and B are what training saves)."""
    adapters = {}
    for parent, attr, name in _modules(encoder):
        adapter = LoRALinear(getattr(parent, attr), rank, alpha)
        setattr(parent, attr, adapter)
        adapters[name] = adapter
    return adapters


def adapter_state(adapters: dict[str, LoRALinear]) -> dict[str, torch.Tensor]:
    return {f"{n}.{p}": getattr(a, p).detach() for n, a in adapters.items() for p in ("lora_a", "lora_b")}


def merged_encoder(encoder: nn.Module, state: dict[str, torch.Tensor], rank: int, alpha: float) -> nn.Module:
    """A copy of ``encoder`` with the adapters in ``state`` merged into its weights (the original is untouched)."""
    copy_ = copy.deepcopy(encoder)
    adapters = add_adapters(copy_, rank, alpha)
    for name, adapter in adapters.items():
        adapter.lora_a.data.copy_(state[f"{name}.lora_a"].float())
        adapter.lora_b.data.copy_(state[f"{name}.lora_b"].float())
    for parent, attr, _ in _modules(copy_):
        setattr(parent, attr, getattr(parent, attr).merged())
    return copy_
