"""The Nazi-glorification and coded-hate sentences (service/training/hate_codes.py): a training source measured by
bench/head_sources.py and its held-out check, which must stay apart."""

from service.training.hate_codes import EVAL_HATEFUL, EVAL_TWINS, TRAIN_HATEFUL, TRAIN_TWINS


def _words(texts: tuple[str, ...]) -> set[str]:
    return {text.lower().strip(".!?") for text in texts}


def test_the_held_out_sentences_are_not_the_training_ones() -> None:
    assert not _words(TRAIN_HATEFUL + TRAIN_TWINS) & _words(EVAL_HATEFUL + EVAL_TWINS)


def test_each_side_has_clean_twins_as_many_as_hateful_sentences() -> None:
    """Twins about the same history keep the head from learning the names instead of the stance."""
    assert len(TRAIN_TWINS) == len(TRAIN_HATEFUL) and len(EVAL_TWINS) == len(EVAL_HATEFUL)
    assert len(set(TRAIN_HATEFUL + TRAIN_TWINS + EVAL_HATEFUL + EVAL_TWINS)) == 2 * (
        len(TRAIN_HATEFUL) + len(EVAL_HATEFUL)
    )
