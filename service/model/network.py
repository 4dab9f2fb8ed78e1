"""The Moderato network: one shared encoder pass per comment feeding toxicity, span and stance heads.

Stance is late interaction: the article (title + lead) is encoded once and its token states are cached; each
comment's own token states attend to them through one small cross-attention block. A comment therefore costs one
encoder pass, and its toxicity never sees the article.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from transformers import BertModel

from service.model.labels import ATTRIBUTES, SPAN_ATTRIBUTES, STANCES

# Span head outputs: one "is toxic" logit per token, then one logit per span attribute (the type of a toxic token).
SPAN_OUTPUTS = 1 + len(SPAN_ATTRIBUTES)


@dataclass
class Encoded:
    """Token states and their padding mask from one encoder pass."""

    states: torch.Tensor  # (batch, tokens, hidden)
    mask: torch.Tensor  # (batch, tokens), 1 for real tokens

    def pooled(self) -> torch.Tensor:
        """Mean of the real tokens' states (the pooling the base model was trained with)."""
        weights = self.mask.unsqueeze(-1).to(self.states.dtype)
        return (self.states * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class StanceHead(nn.Module):
    """Comment tokens attend to cached article tokens; pooled features feed a small classifier."""

    def __init__(self, hidden: int, heads: int = 6, dropout: float = 0.1) -> None:
        super().__init__()
        self.cross = nn.MultiheadAttention(hidden, heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(hidden)
        self.classify = nn.Sequential(
            nn.Linear(5 * hidden, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, len(STANCES))
        )

    def forward(self, comment: Encoded, article: Encoded) -> torch.Tensor:
        attended, _ = self.cross(
            comment.states, article.states, article.states, key_padding_mask=article.mask == 0, need_weights=False
        )
        crossed = Encoded(self.norm(comment.states + attended), comment.mask).pooled()
        u, v = comment.pooled(), article.pooled()
        return self.classify(torch.cat([u, v, u * v, (u - v).abs(), crossed], dim=-1))


def toxicity_head(hidden: int) -> nn.Sequential:
    """Pooled comment states to one logit per attribute."""
    return nn.Sequential(nn.Dropout(0.1), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, len(ATTRIBUTES)))


def span_head(hidden: int) -> nn.Sequential:
    """Each token's states to its span logits (SPAN_OUTPUTS)."""
    return nn.Sequential(nn.Dropout(0.1), nn.Linear(hidden, SPAN_OUTPUTS))


def site_residual(hidden: int, width: int) -> nn.Sequential:
    """A site's own correction to the toxicity logit (``SiteResidual``), zero at the start."""
    out = nn.Linear(width, 1)
    nn.init.zeros_(out.weight)
    nn.init.zeros_(out.bias)
    return nn.Sequential(nn.Linear(hidden, width), nn.GELU(), out)


class SiteResidual(nn.Module):
    """The shipped toxicity head plus a site's learned correction to its toxicity logit: a version learned from one
    site's labels (service/training/learning.py). The shipped head is kept as it was, so every other attribute
    reads as it did; the correction was trained to stay near zero on the base training mix, so the shipped model's
    behaviour elsewhere is kept too."""

    def __init__(self, base: nn.Module, residual: nn.Module) -> None:
        super().__init__()
        self.base = base
        self.residual = residual

    def delta(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.residual(pooled)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        logits = self.base(pooled)
        return torch.cat([logits[:, :1] + self.delta(pooled).to(logits.dtype), logits[:, 1:]], dim=-1)

    def train(self, mode: bool = True) -> SiteResidual:
        super().train(mode)
        self.base.eval()  # the shipped head never learns here, and its dropout stays off
        return self


class ModeratoNet(nn.Module):
    """Encoder plus the three heads.

    :param encoder: a BERT-family encoder (all-MiniLM-L6-v2 in the shipped model).
    :param frozen_layers: the lowest encoder layers (and embeddings) kept at the base weights; only the layers above
        them and the heads are trained and shipped.
    """

    def __init__(self, encoder: BertModel, frozen_layers: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.frozen_layers = frozen_layers
        hidden = encoder.config.hidden_size
        self.toxicity_head = toxicity_head(hidden)
        self.span_head = span_head(hidden)
        self.stance_head = StanceHead(hidden)
        self.freeze_base()

    def freeze_base(self) -> None:
        """Stop gradients below the first trained layer, so backward never runs through the frozen part."""
        self.encoder.embeddings.requires_grad_(False)
        for layer in self.encoder.encoder.layer[: self.frozen_layers]:
            layer.requires_grad_(False)

    def trained_state(self) -> dict[str, torch.Tensor]:
        """The parameters that differ from the base model: the layers above the frozen ones, and the heads."""
        frozen = ("encoder.embeddings.",) + tuple(f"encoder.encoder.layer.{i}." for i in range(self.frozen_layers))
        return {name: p.detach() for name, p in self.named_parameters() if not name.startswith(frozen)}

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Encoded:
        """One encoder pass."""
        out = self.encoder(input_ids=input_ids, attention_mask=attention_mask)
        return Encoded(out.last_hidden_state, attention_mask)

    def toxicity_logits(self, comment: Encoded) -> torch.Tensor:
        return self.toxicity_head(comment.pooled())

    def span_logits(self, comment: Encoded) -> torch.Tensor:
        return self.span_head(comment.states)

    def stance_logits(self, comment: Encoded, article: Encoded) -> torch.Tensor:
        return self.stance_head(comment, article)
