"""A tiny end-to-end training run: train, checkpoint, resume, write a model folder, load and predict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from service.model.checkpoint import CheckpointError, load_model, read_config
from service.model.predict import Predictor
from service.training.cross_stance import CrossStanceOptions, train_cross_stance
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


def test_news_fine_tuning_continues_from_a_shipped_model(tmp_path: Path) -> None:
    """--start: the start's own frozen layers, weights and heads are the starting point, and they move."""
    data = make_tiny_data(tmp_path / "data")
    start, out = tmp_path / "start", tmp_path / "news"
    train(_opts(data, start, steps=1))
    opts = _opts(data, out, steps=2)
    opts.start, opts.frozen_layers, opts.stance_steps, opts.encoder_lr = start, 0, 0, 1e-3
    train(opts)
    assert read_config(out).frozen_layers == 5  # the start's, not the option's
    before, after = load_model(start)[0].trained_state(), load_model(out)[0].trained_state()
    assert set(before) == set(after)
    assert any((before[k] != after[k]).any() for k in before if k.startswith("encoder."))


def test_stance_training_continues_from_another_run(tmp_path: Path) -> None:
    data = make_tiny_data(tmp_path / "data")
    encoder = tmp_path / "smoke"
    train(_opts(data, encoder, steps=1))

    def stance_run(out: Path, steps: int, continue_from: Path | None = None) -> dict[str, torch.Tensor]:
        opts = CrossStanceOptions(
            data=data,
            encoder_model=encoder,
            out=out,
            version=out.name,
            steps=steps,
            batch=4,
            warmup_steps=1,
            checkpoint_every=1,
            dev_limit=4,
            limit_per_source=8,
            continue_from=continue_from,
        )
        train_cross_stance(opts)
        return torch.load(out / "checkpoint" / "stance_state.pt", weights_only=False)

    short = stance_run(tmp_path / "short", steps=2)
    longer = stance_run(tmp_path / "longer", steps=3, continue_from=tmp_path / "short")
    assert short["step"] == 2 and longer["step"] == 3  # one step on from the short run's checkpoint
    assert any((short["adapters"][k] != longer["adapters"][k]).any() for k in short["adapters"])
    assert (tmp_path / "longer" / "stance_config.json").exists()
    # a run that starts from a finished one's adapters and head, with stated openings, then both passes calibrated
    started = CrossStanceOptions(data=data, encoder_model=encoder, out=tmp_path / "init", version="init", steps=1,
                                 batch=4, warmup_steps=1, dev_limit=4, limit_per_source=8,
                                 init_from=tmp_path / "longer", stated_openings=True)  # fmt: skip
    train_cross_stance(started)
    from service.training.stance_confidence import calibrate_stance_command

    answers = tmp_path / "answers.npz"
    report = calibrate_stance_command(data, encoder, tmp_path / "init", False, 8, answers)
    assert set(report) == {"article", "parent"} and answers.exists()
    from service.training.stance_eval import evaluate_stance_command

    evaluated = evaluate_stance_command(data, encoder, tmp_path / "init", tmp_path / "stance.json", 8)
    assert evaluated["sets"] and evaluated["sets_with_offsets"] and "offsets_chosen_on_dev" not in evaluated
    assert json.loads((tmp_path / "stance.json").read_text())["model"] == evaluated["model"]
    predictor = Predictor(encoder, stance_folder=tmp_path / "init")
    assert all(predictor.confidence_maps.values())
    (p,) = predictor.predict(["Exactly right"], [predictor.encode_article("Claim 1")], [predictor.encode_parent("x")])
    assert p.stance is not None and 0.0 <= p.stance.confidence <= 1.0


def test_severe_retune_moves_only_the_severe_output_and_writes_its_report(tmp_path: Path) -> None:
    """`moderato retune-severe` on tiny data: one row of the toxicity head's last layer moves, nothing else; the
    stance confidence maps come along; the report says what each share read on dev and which it chose."""
    import shutil

    from service.model.labels import ATTRIBUTE_INDEX
    from service.training.severe_tuning import METRICS_FILE, SevereOptions, retune_severe
    from tests.conftest import SHIPPED_MODEL

    data = make_tiny_data(tmp_path / "data", copies=12)
    start, out = tmp_path / "start", tmp_path / "severe"
    shutil.copytree(SHIPPED_MODEL.parent / "moderato-v8", start)  # the shipped model's own start
    opts = SevereOptions(data=data, start=start, out=out, version="smoke-severe", shares=(0.3,), steps=40)
    report = retune_severe(opts)
    assert [row["share"] for row in report["grid"]] == [0.0, 0.3] and report["chosen_share"] == 0.3
    assert json.loads((out / METRICS_FILE).read_text())["raw_thresholds"] == report["raw_thresholds"]
    for name in ("stance_confidence.json", "stance-prior-metrics.json"):
        assert (out / name).read_bytes() == (start / name).read_bytes()
    before, after = load_model(start)[0].trained_state(), load_model(out)[0].trained_state()
    moved = {name for name in before if not torch.equal(before[name], after[name])}
    assert moved == {"toxicity_head.3.weight", "toxicity_head.3.bias"}
    severe = ATTRIBUTE_INDEX["severe_toxicity"]
    others = [i for i in range(after["toxicity_head.3.bias"].shape[0]) if i != severe]
    assert torch.equal(before["toxicity_head.3.weight"][others], after["toxicity_head.3.weight"][others])
    assert read_config(out).version == "smoke-severe" and read_config(out).weights_of == "start"
    from safetensors.torch import load_file

    assert set(load_file(str(out / "weights.safetensors"))) == moved  # beside its start, it stores what moved
