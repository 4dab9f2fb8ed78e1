"""Tokenisation shared by training, inference and evaluation, including span labels per token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from service.training.data import UNTYPED

# Token span labels: -100 is "no supervision" (special tokens, padding, sources without spans).
IGNORE = -100


@dataclass
class TokenBatch:
    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    offsets: list[list[tuple[int, int]]]


def tokenize(tokenizer: Any, texts: list[str], max_tokens: int) -> TokenBatch:
    """Pad to the longest text in this batch (not to ``max_tokens``), keeping character offsets."""
    enc = tokenizer(
        texts, truncation=True, max_length=max_tokens, padding=True, return_offsets_mapping=True, return_tensors="pt"
    )
    offsets = [[(int(s), int(e)) for s, e in row] for row in enc["offset_mapping"].tolist()]
    return TokenBatch(enc["input_ids"], enc["attention_mask"], offsets)


def span_token_labels(
    offsets: list[tuple[int, int]], text_length: int, spans: list[tuple[int, int, int]] | None
) -> tuple[list[int], list[int]]:
    """Per token: toxic (1/0) and span type, or IGNORE where there is nothing to learn from.

    A token is toxic when any of its characters is; its type is the first typed toxic character's type.
    """
    if spans is None:
        return [IGNORE] * len(offsets), [IGNORE] * len(offsets)
    chars = np.full(text_length + 1, -2, dtype=np.int64)  # -2: not toxic
    for start, end, kind in spans:
        chars[start:end] = kind
    toxic, types = [], []
    for start, end in offsets:
        if start == end:
            toxic.append(IGNORE)
            types.append(IGNORE)
            continue
        marks = chars[start:end]
        hit = marks[marks != -2]
        toxic.append(int(hit.size > 0))
        typed = hit[hit != UNTYPED]
        types.append(int(typed[0]) if typed.size else IGNORE)
    return toxic, types
