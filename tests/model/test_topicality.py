"""Article stance's on-topic call on the held-out behaviour set (tests/model/topicality_set.py): an insult aimed at
the story, its people, its author or the commenters is on-topic; chatter and spam are not (issue 23, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.model.predict import Predictor
from tests.model.topicality_set import counts, unrelated_shares

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def shares(predictor: Predictor) -> dict[str, float]:
    return unrelated_shares(predictor)


def test_the_behaviour_set_is_as_large_as_promised() -> None:
    size = counts()
    assert size["articles"] >= 15 and size["insults"] + size["civil"] + size["off_topic"] >= 150


def test_on_topic_insults_are_not_called_unrelated(shares: dict[str, float]) -> None:
    assert shares["insults"] <= 0.10  # moderato-v4: 0.325
    assert shares["civil"] <= 0.10


@pytest.mark.xfail(
    strict=True,
    reason="issue 23's target, missed: 0.65 (moderato-v10 under its prior, 0.10). moderato-v9 read 0.77 under 0.35, "
    "chosen on VAST and ARC rows its head had trained on, which calls 11 % of ARC's held-out on-topic posts off-topic",
)
def test_off_topic_chatter_and_spam_are_caught(shares: dict[str, float]) -> None:
    assert shares["off_topic"] >= 0.70


def test_the_prior_is_chosen_on_stories_the_behaviour_set_does_not_share() -> None:
    from service.training.topicality_dev import DEV_STORIES
    from tests.model.topicality_set import ARTICLES

    judged = {a.title for a in ARTICLES} | {t for a in ARTICLES for t in (*a.insults, *a.civil, *a.off_topic)}
    tuned = {s.title for s in DEV_STORIES} | {t for s in DEV_STORIES for t in (*s.on_topic, *s.off_topic)}
    assert not judged & tuned


def test_the_served_prior_is_the_one_the_committed_report_chooses() -> None:
    """The default's off-topic share is what `moderato choose-stance-prior` chose for the shipped head: its report's
    grid (the VAST and ARC columns need the data folder) gives that share under the rule, and its dev stories'
    columns are what the shipped head reads now."""
    import json

    from service.config import DEFAULT_UNRELATED_SHARE
    from service.training.stance_prior import METRICS_FILE, choose, dev_story_log_probs, grid_rows
    from tests.conftest import SHIPPED_MODEL

    report = json.loads((SHIPPED_MODEL / METRICS_FILE).read_text())
    head = Predictor(SHIPPED_MODEL, stance_prior=None)
    for fresh, written in zip(
        grid_rows(dev_story_log_probs(head), {}, list(head.config.stance_train_prior)), report["grid"], strict=True
    ):
        for column in ("dev_stories_on_topic_called_unrelated", "dev_stories_off_topic_caught"):
            assert fresh[column] == pytest.approx(written[column], abs=0.021)  # one comment of 48 (bf16 or not)
    assert choose(report["grid"], list(report["dev"]["grouped"]))["unrelated_share"] == DEFAULT_UNRELATED_SHARE
    assert report["chosen_unrelated_share"] == DEFAULT_UNRELATED_SHARE


def test_the_command_chooses_on_a_small_data_folder_and_writes_its_report(tmp_path: Path) -> None:
    """`moderato choose-stance-prior` as a process, on a tiny data folder (its grouped sets may be too small to
    judge: then they are left out, and the dev stories still choose), into a copy of the shipped model's folder."""
    import json
    import os
    import subprocess
    import sys

    from service.training.stance_prior import METRICS_FILE, choose
    from tests.conftest import SHIPPED_MODEL
    from tests.utils.processes import ROOT
    from tests.utils.tiny_data import make_tiny_data

    model = tmp_path / "model"
    model.mkdir()
    for item in SHIPPED_MODEL.iterdir():  # the weights by link; the report is written here, never into the shipped
        if item.name != METRICS_FILE:
            (model / item.name).symlink_to(item)
    weights_of = json.loads((SHIPPED_MODEL / "config.json").read_text())["weights_of"]
    (tmp_path / weights_of).symlink_to(SHIPPED_MODEL.parent / weights_of)  # the model it changes, beside it
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")} | {"HF_HUB_OFFLINE": "1"}
    data = make_tiny_data(tmp_path / "data", copies=24)
    done = subprocess.run(
        [sys.executable, "-m", "service.cli", "choose-stance-prior", "--data", str(data), "--model", str(model)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((model / METRICS_FILE).read_text())
    assert f"stance prior {report['chosen_prior']}" in done.stdout
    # the rows the article head held out: ARC's hold one off-topic post, VAST's no mix of both
    assert report["dev"]["grouped"] == {"arc": {"rows": 4, "off_topic": 1}}
    assert "vast: 0 dev rows, not both on- and off-topic ones" in done.stderr
    # the tiny ARC split vetoes no share, so the dev stories alone decide (on full data ARC's held-out posts lower it)
    assert report["chosen_unrelated_share"] == choose(report["grid"], [])["unrelated_share"]


def test_the_shipped_model_is_moderato_v9_with_only_its_article_head_retuned() -> None:
    """moderato-v10 = moderato-v9 with the article stance head retuned on more chatter (`moderato retune-stance-head
    --chatter-weight 0.15`, grafted): read whole, every tensor outside the stance head is moderato-v9's."""
    import torch

    from service.model.checkpoint import read_weights
    from tests.conftest import SHIPPED_MODEL

    shipped, before = read_weights(SHIPPED_MODEL), read_weights(SHIPPED_MODEL.parent / "moderato-v9")
    assert shipped.keys() == before.keys()
    moved = {name for name in shipped if not torch.equal(shipped[name], before[name])}
    assert moved and all(name.startswith("stance_head.") for name in moved)
