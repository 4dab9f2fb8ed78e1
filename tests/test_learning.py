"""The learn job on the shipped model and tiny data: a few steps, resumable, a version folder the serving side loads,
and a gate that refuses a worse candidate. (The full simulation is bench/learning.py.)"""

from __future__ import annotations

import copy
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from service.model.predict import Predictor
from service.model.versions import list_versions, read_report, save_heads, version_folder
from service.moderation.labels import Label
from service.training.gate import GateOptions, gate, paired_bootstrap
from service.training.learning import (
    BudgetSpent,
    LearnOptions,
    NotEnoughLabels,
    TrainingSet,
    label_targets,
    learn,
    time_split,
    train_head,
    trainable_model,
)
from tests.conftest import SHIPPED_MODEL
from tests.utils.tiny_data import CIVIL, INSULTS, make_tiny_data

pytestmark = pytest.mark.slow

SITE_TOXIC = [
    "Typical lying politician, should be run out of town.",
    "These people are vermin and you know it.",
    "Only a brain-dead fool would vote for this.",
    "Go back to where you came from.",
]
SITE_CIVIL = [
    "The council meeting is on Tuesday at six.",
    "Does anyone know if the library opens on Sundays?",
    "Good reporting, thank you for covering the vote.",
    "My neighbourhood got the new bus line last year.",
]


def site_labels(n: int) -> list[Label]:
    """A site's labels in arrival order: toxic and civil comments alternating, each text once."""
    out = []
    for i in range(n):
        toxic = i % 2 == 0
        pool = SITE_TOXIC if toxic else SITE_CIVIL
        text = f"{pool[(i // 2) % len(pool)]} ({i})"
        out.append(Label("site-a", f"c{i}", text, int(toxic), "moderator", 1000.0 + i, "", "toxicity", "mod"))
    return out


def suggest(redis_client: Any, labels: list[Label]) -> None:
    """The site's labels as Perspective suggestscore entries in its stream, as the route writes them."""
    import json

    from service import redis_keys as keys

    for label in labels:
        entry = {
            "text": label.text,
            "scores": json.dumps({"TOXICITY": float(label.toxic)}),
            "attributes": json.dumps({"toxicity": float(label.toxic)}),
            "at": f"{label.at:.3f}",
        }
        redis_client.xadd(keys.suggested_scores(label.tenant), entry)
    redis_client.sadd(keys.TENANTS, labels[0].tenant)


@pytest.fixture(scope="module")
def base() -> Predictor:
    return Predictor(SHIPPED_MODEL)


def options(tmp_path: Path, data: Path, **changes: object) -> LearnOptions:
    opts = LearnOptions(
        "site-a",
        SHIPPED_MODEL,
        tmp_path / "models",
        data,
        steps=6,
        batch=8,
        tenant_batch=8,
        replay_rows=48,
        checkpoint_every=2,
        gate=GateOptions(bootstrap=50, dev_limit=40, calibration_rows=200),
    )
    return replace(opts, **changes)  # type: ignore[arg-type]


def test_a_candidate_is_learned_gated_and_servable(tmp_path: Path, base: Predictor) -> None:
    data = make_tiny_data(tmp_path / "data", copies=24)
    report = learn(site_labels(120), options(tmp_path, data), base=base)
    assert report["status"] in ("passed", "rejected") and report["reasons"]
    assert report["labels"]["trained_on"]["labels"] == 84 and report["labels"]["held_out"]["labels"] == 36
    folder = version_folder(tmp_path / "models", report["id"])
    assert read_report(folder)["version"] == f"moderato-v10+{report['id']}"
    assert [v["id"] for v in list_versions(tmp_path / "models", "site-a")] == [report["id"]]
    assert list_versions(tmp_path / "models", "site-b") == []
    site = report["gate"]["site"]
    assert site["held_out_labels"] == 36 and len(site["difference_95_interval"]) == 2
    assert {"toxicity_auc_mean", "identity_bias_templates", "span_f1_tsd"} <= set(report["gate"]["standard"])
    assert site["tries"] == 1 and site["gate_level"] == 0.95
    again = learn(site_labels(120), options(tmp_path, data), base=base)
    assert again["id"] != report["id"]  # even within one second
    assert again["gate"]["site"]["tries"] == 2 and again["gate"]["site"]["gate_level"] == 0.975  # the same labels
    # the serving side loads it as heads on the same encoder: stance is the shipped model's, bit for bit
    candidate = base.with_heads(folder)
    assert candidate.config.version == report["version"] and candidate._encoder is base._encoder
    article = base.encode_article("Council votes to close the library")
    ours, theirs = base.predict(["You are an idiot."], article)[0], candidate.predict(["You are an idiot."], article)[0]
    assert ours.stance == theirs.stance
    assert all(ours.scores[a] == theirs.scores[a] for a in ours.scores if a != "toxicity")  # a residual moves one
    assert not (tmp_path / "models" / ".work" / "site-a" / f"{report['training']['job']}.pt").exists()


def test_a_job_that_fails_after_claiming_its_version_leaves_no_folder_and_can_resume(
    tmp_path: Path, base: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.training import learning

    def gate_fails(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the dev sets could not be read")

    monkeypatch.setattr(learning, "gate", gate_fails)  # the fault: everything before it runs for real
    data = make_tiny_data(tmp_path / "data", copies=24)
    with pytest.raises(RuntimeError, match="could not be read"):
        learn(site_labels(120), options(tmp_path, data), base=base)
    root = tmp_path / "models"
    assert sorted(p.name for p in root.iterdir()) == [learning.WORK]  # no claimed, half-written version
    assert list((root / learning.WORK / "site-a").glob("*.pt"))  # the trained steps are kept for the next try


def test_too_few_labels_or_one_class_held_out_are_refused() -> None:
    with pytest.raises(NotEnoughLabels, match="at least 50"):
        time_split(site_labels(40), 0.3)
    one_sided = [replace(label, toxic=1) if i >= 70 else label for i, label in enumerate(site_labels(100))]
    with pytest.raises(NotEnoughLabels, match="10 of each"):
        time_split(one_sided, 0.3)


def test_time_split_keeps_the_newest_and_never_a_text_on_both_sides() -> None:
    labels = site_labels(100)
    labels[90] = replace(labels[90], text=labels[3].text)  # the same text labelled twice
    train, held = time_split(list(reversed(labels)), 0.3)
    assert [label.id for label in train] == [f"c{i}" for i in range(70)]
    assert "c90" not in {label.id for label in held} and len(held) == 29


def test_training_resumes_from_its_checkpoint_and_stops_at_its_budget(tmp_path: Path, base: Predictor) -> None:
    rng = np.random.default_rng(0)
    data = TrainingSet(
        torch.from_numpy(rng.normal(size=(20, base.hidden)).astype(np.float32)),
        torch.tensor([label_targets(label) for label in site_labels(20)]),
        torch.from_numpy(rng.normal(size=(30, base.hidden)).astype(np.float32)),
        torch.full((30, 6), 0.0),
    )
    state = tmp_path / "job.pt"
    opts = options(tmp_path, tmp_path, steps=4)

    def fresh() -> tuple[torch.nn.Module, list[torch.nn.Parameter]]:
        return trainable_model(base.toxicity_head, opts)

    assert train_head(*fresh(), data, opts, state, time.monotonic() + 60) == 4
    assert state.exists()
    resumed, params = fresh()
    assert train_head(resumed, params, data, replace(opts, steps=6), state, time.monotonic() + 60) == 6
    assert float(resumed.delta(data.tenant_x).detach().abs().max()) > 0  # the correction learned something
    with pytest.raises(BudgetSpent, match="step 6 of 9"):
        train_head(*fresh(), data, replace(opts, steps=9), state, time.monotonic() - 1)
    assert torch.load(state, weights_only=False)["step"] == 6


def test_the_gate_refuses_a_worse_candidate_and_an_unchanged_one(tmp_path: Path, base: Predictor) -> None:
    data = make_tiny_data(tmp_path / "data", copies=24)
    held = [
        Label("site-a", f"h{i}", text, toxic, "moderator", float(i), "", "toxicity", "mod")
        for i, (text, toxic) in enumerate([(t, 1) for t in INSULTS * 3] + [(t, 0) for t in CIVIL * 3])
    ]
    worse_head = copy.deepcopy(base.toxicity_head)
    with torch.no_grad():
        worse_head[-1].weight.neg_()  # reads every comment backwards
        worse_head[-1].bias.neg_()
    folder = tmp_path / "worse"
    save_heads(
        {"toxicity_head": worse_head, "span_head": base.span_head},
        replace(base.config, version="moderato-v10+worse", heads_of=base.config.version),
        folder,
    )
    opts = GateOptions(bootstrap=50, dev_limit=40, calibration_rows=200)
    verdict = gate(held, base, base.with_heads(folder), data, tmp_path / "work", opts)
    assert not verdict.passed
    assert verdict.report["site"]["candidate_auc"] < verdict.report["site"]["served_auc"]
    assert any("toxicity_auc_mean fell" in r for r in verdict.reasons)
    same = gate(held, base, base, data, tmp_path / "work", opts)
    assert not same.passed and "inside the bootstrap noise" in same.reasons[0]


def test_the_bootstrap_interval_sees_a_real_gain_and_not_noise() -> None:
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 2, 400)
    noisy = rng.normal(size=400)
    informed = gold + rng.normal(size=400)
    diff, low, _ = paired_bootstrap(gold, noisy, informed, 200, 0)
    assert diff > 0.2 and low > 0
    _, low, high = paired_bootstrap(gold, noisy, rng.normal(size=400), 200, 0)
    assert low < 0 < high


def test_a_stricter_level_widens_the_interval() -> None:
    rng = np.random.default_rng(2)
    gold = rng.integers(0, 2, 300)
    ours, theirs = gold + rng.normal(size=300) * 2, gold + rng.normal(size=300) * 1.5
    _, low95, high95 = paired_bootstrap(gold, ours, theirs, 2000, 0)
    _, low99, high99 = paired_bootstrap(gold, ours, theirs, 2000, 0, level=0.99)
    assert low99 < low95 < high95 < high99


def test_version_ids_claimed_in_one_second_are_distinct(tmp_path: Path) -> None:
    from service.training.learning import claim_candidate_id

    ids = [claim_candidate_id(tmp_path, "site-a") for _ in range(3)]
    assert len(set(ids)) == 3 and all(version_folder(tmp_path, i).is_dir() for i in ids)
    assert list_versions(tmp_path, "site-a") == []  # claimed, no report yet: not a version


def test_reruns_on_overlapping_held_out_labels_count_as_tries(tmp_path: Path) -> None:
    """The gate's Bonferroni count: earlier candidates of this tenant, judged against the same served model, whose
    held-out window overlaps this one's."""
    from service.model.versions import write_report
    from service.training.learning import overlapping_judgements

    def judged(version_id: str, tenant: str, served: str, start: str, end: str) -> None:
        folder = version_folder(tmp_path, version_id)
        folder.mkdir(parents=True)
        write_report(
            folder,
            {
                "tenant": tenant,
                "judged_against": served,
                "created_at": start,
                "labels": {"held_out": {"from": start, "to": end}},
            },
        )

    judged("site-a-20261201T000000", "site-a", "m1", "2026-11-20T00:00:00+00:00", "2026-11-30T00:00:00+00:00")
    judged("site-a-20261202T000000", "site-a", "m1", "2026-11-25T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
    judged("site-a-20261203T000000", "site-a", "m2", "2026-11-25T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
    judged("site-a-20261130T000000", "site-a", "m1", "2026-11-01T00:00:00+00:00", "2026-11-10T00:00:00+00:00")
    judged("site-b-20261202T000000", "site-b", "m1", "2026-11-25T00:00:00+00:00", "2026-12-01T00:00:00+00:00")
    window = {"from": "2026-11-28T00:00:00+00:00", "to": "2026-12-02T00:00:00+00:00"}
    assert sorted(overlapping_judgements(tmp_path, "site-a", "m1", window)) == [
        "site-a-20261201T000000",
        "site-a-20261202T000000",
    ]
    fresh = {"from": "2026-12-02T00:00:01+00:00", "to": "2026-12-03T00:00:00+00:00"}
    assert overlapping_judgements(tmp_path, "site-a", "m1", fresh) == []


def test_the_scheduled_job_runs_once_per_batch_of_new_labels_and_one_worker_at_a_time(
    tmp_path: Path, redis_client: Any, redis_server: Any
) -> None:
    import asyncio

    import redis.asyncio as aioredis
    from pydantic import SecretStr

    from service import redis_keys as keys
    from service.config import Settings
    from service.moderation.suggestions import Suggestion, record_suggestion
    from service.training.schedule import learn_due

    settings = Settings(
        _env_file=None,
        redis_url=redis_server.url,
        data_dir=tmp_path,
        model_dir=SHIPPED_MODEL,  # type: ignore[call-arg]
        api_keys=SecretStr("k=site-a:admin"),
        learn_every_s=3600,
        learn_data=make_tiny_data(tmp_path / "data", copies=24),
        learn_min_new_labels=100,
    )

    async def scenario() -> tuple[Any, Any, Any]:
        redis = aioredis.Redis.from_url(redis_server.url)
        try:
            for label in site_labels(120):  # a site suggesting scores through Perspective's suggestscore
                score = float(label.toxic)
                await record_suggestion(
                    redis, "site-a", Suggestion(label.text, {"TOXICITY": score}, {"toxicity": score})
                )
            await redis.set(keys.learn_lease("site-a"), "another-worker")
            held = await learn_due(redis, settings, "site-a", "me")
            await redis.delete(keys.learn_lease("site-a"))
            first = await learn_due(redis, settings, "site-a", "me")
            second = await learn_due(redis, settings, "site-a", "me")  # no new labels since
            return held, first, second
        finally:
            await redis.aclose()

    held, first, second = asyncio.run(scenario())
    assert held is None and second is None
    assert first is not None and first["status"] in ("passed", "rejected")
    assert first["labels"]["trained_on"]["sources"] == {"suggestscore": 84}
    state = redis_client.hgetall(keys.learn_state("site-a"))
    assert state[b"labels"] == b"120" and state[b"candidate"].decode() == first["id"]
    assert not redis_client.exists(keys.learn_lease("site-a"))
    assert (tmp_path / "models" / first["id"] / "report.json").exists()


def test_the_commands_learn_list_promote_and_roll_back(tmp_path: Path, redis_client: Any, redis_server: Any) -> None:
    """`moderato learn` and `moderato models` as an operator runs them, against the real Redis."""
    import json
    import os
    import subprocess
    import sys

    from tests.utils.processes import ROOT

    suggest(redis_client, site_labels(120))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")}
    env.update(
        MODERATO_REDIS_URL=redis_server.url,
        MODERATO_MODELS_PATH=str(tmp_path / "models"),
        MODERATO_MODEL_DIR=str(SHIPPED_MODEL),
        HF_HUB_OFFLINE="1",
    )

    def moderato(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "service.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
        )

    data = make_tiny_data(tmp_path / "data", copies=24)
    learned = moderato("learn", "--tenant", "site-a", "--data", str(data), "--steps", "20", "--dev-limit", "40")
    assert learned.returncode == 0, learned.stderr[-3000:]
    report = json.loads(learned.stdout)
    assert report["status"] in ("passed", "rejected") and report["site"]["held_out_labels"] == 36
    listed = json.loads(moderato("models", "list", "--tenant", "site-a").stdout)
    assert [v["id"] for v in listed["versions"]] == [report["id"]] and listed["serving"] is None
    promoted = moderato("models", "promote", "--tenant", "site-a", report["id"])
    if report["status"] == "passed":
        assert promoted.returncode == 0 and f"shipped model -> {report['id']}" in promoted.stdout
        assert moderato("models", "rollback", "--tenant", "site-a").returncode == 0
    else:
        assert promoted.returncode != 0 and "did not pass its gate" in promoted.stderr
    nothing = moderato("models", "rollback", "--tenant", "site-a")
    assert nothing.returncode != 0 and "nothing to roll back to" in nothing.stderr
    too_few = moderato("learn", "--tenant", "site-b", "--data", str(data))
    assert too_few.returncode != 0 and "a candidate needs at least 50" in too_few.stderr


def test_the_commands_defaults_are_the_jobs() -> None:
    from service.cli import parser

    args = parser().parse_args(["learn", "--tenant", "t", "--data", "d"])
    defaults = LearnOptions("t", Path("m"), Path("r"), Path("d"))
    assert (args.steps, args.trainable, args.budget_s) == (defaults.steps, defaults.trainable, defaults.budget_s)
    assert args.dev_limit == defaults.gate.dev_limit


def test_a_worker_runs_the_job_on_its_schedule_and_stops_cleanly(
    tmp_path: Path, redis_client: Any, redis_server: Any
) -> None:

    from pydantic import ValidationError

    from service import redis_keys as keys
    from service.config import Settings
    from tests.utils.processes import start_worker, wait_for

    with pytest.raises(ValidationError, match="MODERATO_LEARN_DATA"):
        Settings(_env_file=None, learn_every_s=60)
    suggest(redis_client, site_labels(120))
    data = make_tiny_data(tmp_path / "data", copies=24)
    worker = start_worker(
        redis_server.url,
        name="learner",
        log=tmp_path / "worker.log",
        models_path=str(tmp_path / "models"),
        learn_every_s="1",
        learn_data=str(data),
        learn_min_new_labels="100",
        model_dir=str(SHIPPED_MODEL),
    )
    try:
        wait_for(lambda: redis_client.hget(keys.learn_state("site-a"), "candidate") is not None, 300, "a candidate")
    finally:
        worker.terminate()
        assert worker.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    candidate = redis_client.hget(keys.learn_state("site-a"), "candidate").decode()
    assert (tmp_path / "models" / candidate / "report.json").exists()
    assert "Traceback" not in (tmp_path / "worker.log").read_text()
