import math
from pathlib import Path

from service.model.labels import ATTRIBUTES, SPAN_INDEX, STANCES
from service.training.batches import IGNORE, span_token_labels
from service.training.data import (
    UNTYPED,
    civil_majority_spans,
    is_dev,
    split_stance,
    split_toxicity,
    stance_examples,
    toxicity_examples,
    ucc_share,
)
from tests.utils.tiny_data import make_tiny_data


def test_civil_spans_keep_majority_characters_and_type() -> None:
    text = "you idiot and a clown"
    raw = '[["a","insult",4,9],["b","insult",4,9],["c","obscene",16,21]]'
    assert civil_majority_spans(text, 3, raw) == [(4, 9, SPAN_INDEX["insult"])]


def test_token_labels_mark_tokens_touching_toxic_characters() -> None:
    offsets = [(0, 0), (0, 3), (4, 9), (10, 13), (0, 0)]
    toxic, types = span_token_labels(offsets, 13, [(4, 9, SPAN_INDEX["insult"])])
    assert toxic == [IGNORE, 0, 1, 0, IGNORE]
    assert types == [IGNORE, IGNORE, SPAN_INDEX["insult"], IGNORE, IGNORE]
    untyped = span_token_labels(offsets, 13, [(4, 9, UNTYPED)])
    assert untyped[0][2] == 1 and untyped[1][2] == IGNORE
    assert span_token_labels(offsets, 13, None) == ([IGNORE] * 5, [IGNORE] * 5)


def test_dev_split_is_deterministic() -> None:
    assert [is_dev(str(i)) for i in range(200)] == [is_dev(str(i)) for i in range(200)]
    assert 10 < sum(is_dev(str(i)) for i in range(200)) < 50


def test_every_source_maps_onto_the_schema(tmp_path: Path) -> None:
    folder = make_tiny_data(tmp_path)
    tox = toxicity_examples(folder)
    assert tox.pop("moderator_labels") == []  # optional file, absent here
    for name, examples in tox.items():
        assert examples, name
        assert all(len(ex.targets) == len(ATTRIBUTES) for ex in examples)
        train, dev = split_toxicity(examples)
        assert len(train) + len(dev) == len(examples)
    for name, examples in stance_examples(folder).items():
        assert examples and all(0 <= ex.label < len(STANCES) for ex in examples), name
        train, dev = split_stance(examples)
        keys_train = {ex.extra["split_key"] for ex in train}
        assert not keys_train & {ex.extra["split_key"] for ex in dev}


def test_ucc_antagonizing_comments_are_toxic_not_clean_negatives() -> None:
    """UCC: toxicity is the larger of the hostile and antagonize shares; an antagonizing comment that is not hostile
    used to be taught as negative for everything."""
    row = {"hostile": "0", "hostile_confidence": "0.8", "antagonize": "1", "antagonize_confidence": "0.7"}
    assert math.isclose(ucc_share(row, "hostile"), 0.2) and math.isclose(ucc_share(row, "antagonize"), 0.7)
    assert ucc_share({"hostile": "0", "hostile_confidence": ""}, "hostile") == 0.0


def test_ucc_targets_follow_the_shares(tmp_path: Path) -> None:
    folder = make_tiny_data(tmp_path)  # its UCC rows: healthy, neither hostile nor antagonizing, full confidence
    ucc = toxicity_examples(folder)["ucc"]
    assert all(ex.targets == [0.0] * len(ATTRIBUTES) for ex in ucc)
