import numpy as np

from service.model.claim import article_claim
from service.model.labels import SPAN_ATTRIBUTES, SPAN_INDEX
from service.model.predict import Span, extract_spans


def _logit(toxic: bool, kind: str = "insult") -> np.ndarray:
    out = np.full(1 + len(SPAN_ATTRIBUTES), -4.0)
    out[0] = 4.0 if toxic else -4.0
    out[1 + SPAN_INDEX[kind]] = 4.0
    return out


def test_spans_widen_to_words_and_merge_across_spaces() -> None:
    text = "you stupid idiot, honestly"
    tokens = [
        ((0, 3), _logit(False)),
        ((4, 8), _logit(True)),
        ((8, 10), _logit(True)),
        ((11, 16), _logit(True)),
        ((16, 17), _logit(False)),
        ((18, 26), _logit(False)),
    ]
    assert extract_spans(text, tokens, 0.5) == [Span(4, 16, "insult")]


def test_spans_keep_separate_words_apart_and_typed() -> None:
    text = "idiot and I will hurt you"
    tokens = [((0, 5), _logit(True)), ((6, 9), _logit(False)), ((17, 21), _logit(True, "threat"))]
    assert extract_spans(text, tokens, 0.5) == [Span(0, 5, "insult"), Span(17, 21, "threat")]


def test_article_claim_is_title_then_lead() -> None:
    assert article_claim("Title", "") == "Title"
    claim = article_claim(" Library to close ", "The council  voted.\nMore " + "x" * 1000)
    assert claim.startswith("Library to close. The council voted. More")
    assert len(claim) < 400
