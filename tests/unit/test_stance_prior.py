"""How the article prior's off-topic share is chosen (service/training/stance_prior.py), on made-up answers."""

from __future__ import annotations

import numpy as np
import pytest

from service.config import stance_prior_with
from service.model.labels import STANCE_INDEX, STANCES
from service.training import topicality
from service.training.stance_prior import GRID, called_unrelated, choose, grid_rows
from service.training.topicality_dev import DEV_STORIES

TRAIN_PRIOR = [0.25, 0.25, 0.25, 0.25]
U = STANCE_INDEX["unrelated"]


def answers(unrelated: list[float]) -> np.ndarray:
    """Log-probabilities whose `unrelated` probability is each value, the rest shared by the other classes."""
    rows = [[(1 - u) / 3 if i != U else u for i in range(len(STANCES))] for u in unrelated]
    return np.log(np.array(rows))


def test_a_prior_sums_to_one_and_gives_unrelated_its_share() -> None:
    prior = stance_prior_with(0.35)
    assert sum(prior) == pytest.approx(1.0) and prior[U] == 0.35


def test_a_larger_share_calls_more_comments_unrelated() -> None:
    logp = answers([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    counts = [int(called_unrelated(logp, TRAIN_PRIOR, share).sum()) for share in GRID]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_the_choice_catches_the_most_chatter_the_on_topic_bounds_allow() -> None:
    # on-topic reactions read 0.2-0.3 unrelated; chatter 0.25-0.7; real comments 0.05
    stories = (answers([0.2, 0.25, 0.3, 0.25, 0.4, 0.55, 0.7]), np.array([False] * 3 + [True] * 4))
    grouped = {"vast": (answers([0.05] * 20 + [0.8] * 5), np.array([False] * 20 + [True] * 5))}
    rows = grid_rows(stories, grouped, TRAIN_PRIOR)
    chosen = choose(rows, ["vast"])
    assert chosen["dev_stories_on_topic_called_unrelated"] <= 0.10
    better = [r for r in rows if r["dev_stories_off_topic_caught"] > chosen["dev_stories_off_topic_caught"]]
    assert all(r["dev_stories_on_topic_called_unrelated"] > 0.10 for r in better)


def test_no_share_is_chosen_when_real_comments_would_read_off_topic() -> None:
    stories = (answers([0.2, 0.6]), np.array([False, True]))
    grouped = {"vast": (answers([0.9] * 10 + [0.95]), np.array([False] * 10 + [True]))}
    with pytest.raises(ValueError):
        choose(grid_rows(stories, grouped, TRAIN_PRIOR), ["vast"])


def test_the_dev_stories_share_no_phrase_with_the_training_generator() -> None:
    trained = {*topicality.CHATTER, *topicality.SARCASM, *topicality.CIVIL_REACTIONS}
    tuned = {t for s in DEV_STORIES for t in (*s.on_topic, *s.off_topic)}
    assert not trained & tuned


def test_each_article_pass_gets_the_prior_it_was_tuned_under_unless_one_is_set() -> None:
    from service.config import CROSS_ARTICLE_STANCE_PRIOR, DEFAULT_STANCE_PRIOR, PROJECT_ROOT, Settings

    assert Settings(_env_file=None).served_stance_prior() == list(DEFAULT_STANCE_PRIOR)  # type: ignore[call-arg]
    cross = Settings(_env_file=None, cross_article_stance=True)  # type: ignore[call-arg]
    assert cross.served_stance_prior() == list(CROSS_ARTICLE_STANCE_PRIOR)
    chosen = Settings(_env_file=None, stance_prior=[1, 1, 1, 1])  # type: ignore[call-arg]
    assert chosen.served_stance_prior() == [0.25] * 4
    # a pinned model is served under the prior chosen for its own head (its report beside the weights)
    pinned = Settings(_env_file=None, model_dir=PROJECT_ROOT / "model_cards" / "moderato-v9")  # type: ignore[call-arg]
    assert pinned.served_stance_prior() == [0.3167, 0.3167, 0.3167, 0.05]


def test_an_answer_cached_under_another_prior_is_not_this_ones() -> None:
    from types import SimpleNamespace

    import torch

    from service.scoring.model_runner import _cache_version

    def runner(shift: list[float]) -> SimpleNamespace:
        return SimpleNamespace(version="m", confidence_fit="c", stance_shift=torch.tensor(shift))

    assert _cache_version(runner([0.0, 0.0, 0.0, -1.0])) != _cache_version(runner([0.0, 0.0, 0.0, 0.2]))
    assert _cache_version(runner([0.0] * 4)) == _cache_version(runner([0.0] * 4))
