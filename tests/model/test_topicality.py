"""Article stance's on-topic call on the held-out behaviour set (tests/model/topicality_set.py): an insult aimed at
the story, its people, its author or the commenters is on-topic; chatter and spam are not (issue 23, item 2)."""

from __future__ import annotations

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


@pytest.mark.xfail(strict=True, reason="known miss (model card): off-topic chatter caught 0.56, the target is 0.70")
def test_off_topic_chatter_and_spam_are_caught(shares: dict[str, float]) -> None:
    assert shares["off_topic"] >= 0.70
