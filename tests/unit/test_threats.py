from service.model.labels import ATTRIBUTE_INDEX, SPAN_INDEX
from service.training.data import TEMPLATE_SOURCES, load_threat_templates, split_toxicity
from service.training.threats import (
    EVAL_HARMLESS_ACTS,
    EVAL_STANDALONE_THREATS,
    EVAL_VIOLENT_ACTS,
    TRAIN_HARMLESS_ACTS,
    TRAIN_STANDALONE_THREATS,
    TRAIN_VIOLENT_ACTS,
    evaluation_threats,
    training_threats,
)


def _verbs(acts: tuple[str, ...]) -> set[str]:
    return {act.split()[0] for act in acts}


def test_evaluation_threats_share_no_sentence_or_act_with_training() -> None:
    assert not {s.text for s in training_threats()} & {s.text for s in evaluation_threats()}
    train_verbs = _verbs(TRAIN_VIOLENT_ACTS + TRAIN_HARMLESS_ACTS)
    assert not train_verbs & _verbs(EVAL_VIOLENT_ACTS + EVAL_HARMLESS_ACTS)
    assert not set(TRAIN_STANDALONE_THREATS) & set(EVAL_STANDALONE_THREATS)


def test_a_threat_span_is_exactly_the_threatening_phrase() -> None:
    sentences = training_threats() + evaluation_threats()
    standalone = set(TRAIN_STANDALONE_THREATS + EVAL_STANDALONE_THREATS)
    for s in sentences:
        if s.threat and s.text in standalone:  # no act named: the sentence is the threat
            assert s.span == (0, len(s.text) - 1) and s.text[-1] in ".!?"
        elif s.threat:
            assert s.span is not None
            phrase = s.text[s.span[0] : s.span[1]]
            assert any(phrase.startswith(act.split()[0]) for act in TRAIN_VIOLENT_ACTS + EVAL_VIOLENT_ACTS), s
        else:
            assert s.span is None
    assert "I will find you and hurt you." in {s.text for s in sentences}
    assert any(not s.threat and "you" in s.text for s in sentences)  # same frames, harmless act


def test_threat_templates_train_the_threat_attribute_and_its_span_type() -> None:
    examples = load_threat_templates()
    threats = [ex for ex in examples if ex.targets[ATTRIBUTE_INDEX["threat"]] == 1.0]
    others = [ex for ex in examples if ex.targets[ATTRIBUTE_INDEX["threat"]] == 0.0]
    assert threats and others and len(threats) + len(others) == len(examples)
    assert all(ex.spans and ex.spans[0][2] == SPAN_INDEX["threat"] for ex in threats)
    assert all(ex.spans == [] and max(ex.targets) == 0.0 for ex in others)
    assert "threat_templates" in TEMPLATE_SOURCES
    assert split_toxicity(examples)[1] == []  # all training: the evaluation has its own
