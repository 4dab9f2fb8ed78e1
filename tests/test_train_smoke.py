"""A tiny end-to-end training run: train, checkpoint, resume, write a model folder, load and predict."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.model.checkpoint import CheckpointError, load_model, read_config
from service.model.predict import Predictor
from service.training.head_tuning import HeadTuningOptions, tune_heads
from service.training.train import TrainOptions, train
from tests.utils.tiny_data import make_tiny_data

pytestmark = pytest.mark.slow


def _opts(data: Path, out: Path, steps: int) -> TrainOptions:
    return TrainOptions(
        data=data,
        out=out,
        version="smoke",
        steps=steps,
        toxicity_batch=4,
        stance_batch=4,
        max_tokens=32,
        article_tokens=16,
        warmup_steps=1,
        checkpoint_every=2,
        frozen_layers=5,
        stance_steps=2,
        stance_tuning_batch=4,
    )


def test_train_resume_and_load(tmp_path: Path) -> None:
    data = make_tiny_data(tmp_path / "data")
    out = tmp_path / "model"
    train(_opts(data, out, steps=2))
    first = load_model(out)[0].trained_state()
    train(_opts(data, out, steps=4))  # resumes at step 2 from the checkpoint
    log_state = out / "checkpoint" / "train_state.pt"
    assert log_state.exists()
    second = load_model(out)[0].trained_state()
    assert any((first[k] != second[k]).any() for k in first)
    config = read_config(out)
    assert config.version == "smoke" and config.frozen_layers == 5
    (result,) = Predictor(out).predict(["you idiot"], Predictor(out).encode_article("a claim"))
    assert result.stance is not None


def test_schema_mismatch_is_refused(tmp_path: Path) -> None:
    data = make_tiny_data(tmp_path / "data")
    out = tmp_path / "model"
    train(_opts(data, out, steps=1))
    config = (out / "config.json").read_text().replace('"threat"', '"menace"')
    (out / "config.json").write_text(config)
    with pytest.raises(CheckpointError, match="labels"):
        load_model(out)


def test_head_tuning_moves_only_the_toxicity_and_span_heads(tmp_path: Path) -> None:
    """Retuning keeps the encoder and the stance head bit-identical (so stance cannot change), and resumes."""
    data = make_tiny_data(tmp_path / "data")
    start, out = tmp_path / "start", tmp_path / "tuned"
    train(_opts(data, start, steps=1))
    opts = HeadTuningOptions(data=data, start=start, out=out, version="smoke-heads", steps=2, batch=4, max_tokens=32)
    tune_heads(opts)
    opts.steps = 3
    tune_heads(opts)  # resumes at step 2
    before, after = load_model(start)[0].trained_state(), load_model(out)[0].trained_state()
    moved = {name for name in before if (before[name] != after[name]).any()}
    assert moved and all(name.startswith(("toxicity_head.", "span_head.")) for name in moved)
    assert read_config(out).version == "smoke-heads"
