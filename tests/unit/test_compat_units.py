"""Pure pieces of the compatibility shapes and the new model outputs: sentence scores, UTF-16 offsets, Coral's
signature and story claims, OpenAI's category mapping, the reply summary, language detection."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest

from service.api.compat.coral import CoralRequest, safe_id, story_claim
from service.api.compat.openai_moderations import NOT_SCORED, SCORED, _result
from service.api.compat.perspective import sentence_spread, utf16_offset
from service.api.deps import signed_by
from service.model.html_text import html_to_text
from service.model.labels import parent_scores
from service.model.predict import sentence_scores
from service.moderation.threads import with_reply_summaries
from service.scoring.language import detect, primary
from service.scoring.scorer import CommentIn, ScoredComment, language_of


def _logit(p: float) -> np.ndarray:
    return np.array([np.log(p / (1 - p))] + [0.0] * 5)


def test_each_sentence_gets_its_most_toxic_token() -> None:
    text = "Nice work.  You idiot! Why?"
    tokens = [((0, 4), _logit(0.1)), ((5, 9), _logit(0.05)), ((12, 15), _logit(0.2)), ((16, 21), _logit(0.9)),
              ((23, 26), _logit(0.3))]  # fmt: skip
    scored = sentence_scores(text, tokens)
    assert [(s, e, v["toxicity"]) for s, e, v in scored] == [(0, 10, 0.1), (12, 22, 0.9), (23, 27, 0.3)]


def test_sentence_scores_per_attribute_come_from_the_span_types() -> None:
    insult_type = np.array([np.log(0.9 / 0.1), -5.0, 5.0, -5.0, -5.0, -5.0])  # toxic, and of type insult
    threat_type = np.array([np.log(0.8 / 0.2), -5.0, -5.0, 5.0, -5.0, -5.0])
    (first, second) = sentence_scores("Idiot. I will hurt you.", [((0, 5), insult_type), ((9, 13), threat_type)])
    assert first[2]["toxicity"] == 0.9 and first[2]["insult"] > 0.89 and first[2]["threat"] < 0.01
    assert second[2]["threat"] > 0.79 and second[2]["insult"] < 0.01


def test_span_scores_spread_each_attributes_summary_over_its_sentences() -> None:
    sentences = [(0, 6, {"toxicity": 0.9, "insult": 0.8}), (7, 20, {"toxicity": 0.3, "insult": 0.2})]
    assert sentence_spread(sentences, "insult", 0.95) == [(0, 6, 0.95), (7, 20, 0.2375)]
    # severe toxicity has no span type: it follows toxicity's reading, the worst sentence carrying the summary
    assert sentence_spread(sentences, "severe_toxicity", 0.6) == [(0, 6, 0.6), (7, 20, 0.2)]
    assert sentence_spread([(0, 3, {"toxicity": 0.0})], "insult", 0.1) == [(0, 3, 0.0)]


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("pa<b>the</b>tic mo<i>r</i>on", "pathetic moron"),
        ("<p>One</p><p>two &amp; three</p>", "One\ntwo & three"),
        ("first<br>second", "first\nsecond"),
        ("x<script>alert(1)</script>y", "xy"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("&lt;b&gt;shown&lt;/b&gt;", "<b>shown</b>"),
    ],
)
def test_html_is_read_by_a_parser_not_a_regex(markup: str, text: str) -> None:
    assert html_to_text(markup) == text


def test_a_sentence_in_another_language_inside_english_is_that_language() -> None:
    wrapped = "Great article. Ich werde dich umbringen du Hurensohn. Thanks for sharing, very informative piece."
    assert detect(wrapped).code == "de" and not detect(wrapped).supported
    # foreign words inside English sentences, and short English sentences, stay English
    for english in (
        "We ate at La Casa de Toño last night. Great tacos, would go again.",
        "My grandmother used to say que será será. Whatever will be, will be.",
        "Veni, vidi, vici as Caesar said. Trump thinks he is Caesar.",
        "Ur weird. What utter nonsense. Go away.",
    ):
        assert detect(english).supported, english


def test_a_language_hint_never_skips_detection() -> None:
    spanish = "Ojalá te mueras pronto, maldito imbécil."
    assert not language_of(CommentIn("c", spanish, language="en")).supported  # Coral's Perspective setting sends en
    assert language_of(CommentIn("c", "Great article, thanks!", language="en")).supported
    assert not language_of(CommentIn("c", "Great article, thanks!", language="fr")).supported  # the caller knows


def test_corals_older_payload_shape_is_read() -> None:
    older = {"action": "NEW", "comment": {"body": "hi", "parentID": None}, "author": {"id": "u1"},
             "story": {"id": "s1", "url": ""}, "tenant": {"id": "t1", "domain": "news.example"}}  # fmt: skip
    parsed = CoralRequest.model_validate(older)
    assert parsed.tenant_id == "t1" and parsed.tenant_domain == "news.example"


def test_utf16_offsets_count_astral_characters_twice() -> None:
    text = "a😀b c"
    assert [utf16_offset(text, i) for i in range(len(text) + 1)] == [0, 1, 3, 4, 5, 6]


def test_coral_signatures_as_coral_makes_them() -> None:
    body = b'{\n  "action": "NEW"\n}'
    good = "sha256=" + hmac.new(b"s2", body, hashlib.sha256).hexdigest()
    assert signed_by(["s2"], body, f"sha256={'0' * 64},{good}")  # one of several, as during a rotation
    assert not signed_by(["s1"], body, good) and not signed_by(["s2"], body, "") and not signed_by(["s2"], body, "é")


def test_story_urls_become_claims_and_ids_stay_addressable() -> None:
    assert (
        story_claim("https://n.example/2026/12/council-votes-to-close-library.html?x=1")
        == "council votes to close library"
    )
    assert story_claim("https://n.example/") == ""
    assert safe_id("3f2b-11ef") == "3f2b-11ef" and safe_id("a/b c") == "a-b-c" and len(safe_id("é" * 300)) <= 256


def test_openai_categories_come_from_the_right_attributes() -> None:
    scores = {
        "toxicity": 0.9,
        "severe_toxicity": 0.1,
        "insult": 0.8,
        "threat": 0.05,
        "identity_attack": 0.5,
        "obscene": 0.1,
    }
    outcome = ScoredComment("c", scores, [], None, "review", ["insult >= 0.60"], False)
    result = _result(outcome, {"insult": 0.6, "threat": 0.4, "identity_attack": 0.4})
    assert result["category_scores"]["harassment"] == 0.8 and result["categories"]["harassment"]
    assert result["category_scores"]["hate/threatening"] == 0.05 and not result["categories"]["hate/threatening"]
    assert result["categories"]["hate"] and result["flagged"]
    for name in NOT_SCORED:
        assert result["category_scores"][name] == 0.0 and result["category_applied_input_types"][name] == []
    assert set(result["categories"]) == set(SCORED) | set(NOT_SCORED)
    assert result["moderato"] == {"decision": "review", "reasons": ["insult >= 0.60"], "language": "en"}
    # held for a reason no category names (a language the model does not read): still flagged, never allowed
    quiet = {name: 0.01 for name in scores}
    held = ScoredComment("c", quiet, [], None, "review", ["unsupported_language: es"], False, language="es")
    assert _result(held, {"insult": 0.6})["flagged"] and not any(_result(held, {"insult": 0.6})["categories"].values())


def test_parent_stance_folds_discuss_and_unrelated_into_neutral() -> None:
    assert parent_scores({"agree": 0.1, "disagree": 0.6, "discuss": 0.2, "unrelated": 0.1}) == {
        "agree": 0.1, "disagree": 0.6, "neutral": 0.3,
    }  # fmt: skip


def test_reply_summary_counts_confident_stances_and_hostility() -> None:
    def comment(cid: str, parent: str | None, label: str | None, tox: float, sure: bool = True) -> dict[str, object]:
        stance = {"label": label, "confident": sure} if label else None
        return {"id": cid, "parent_id": parent, "stance_to_parent": stance, "scores": {"toxicity": tox}}

    rows = with_reply_summaries(
        [
            comment("p", None, None, 0.1),
            comment("a", "p", "agree", 0.0),
            comment("b", "p", "disagree", 0.8),
            comment("c", "p", "disagree", 0.4),
            comment("u", "p", "disagree", 0.9, sure=False),  # an unsure disagreement: counted, under no label
            comment("d", "b", "neutral", 0.2),
        ]  # fmt: skip
    )
    root = rows[0]["replies"]
    assert root == {"count": 4, "agree": 1, "disagree": 2, "neutral": 0, "unsure": 1,
                    "disagreeing_max_toxicity": 0.8, "disagreeing_mean_toxicity": 0.6}  # fmt: skip
    assert rows[2]["replies"]["count"] == 1 and rows[1]["replies"]["disagreeing_max_toxicity"] is None


def test_language_is_english_unless_the_detector_is_sure() -> None:
    assert detect("Thanks for the article!").code == "en" and detect("ok").code == "en"
    assert detect("Die Bibliothek muss offen bleiben.").code == "de"
    assert not detect("Questo articolo è pieno di bugie").supported


@pytest.mark.parametrize(
    ("text", "code"),
    [("Eres un idiota.", "es"), ("Du bist ein Idiot.", "de"), ("Você é um idiota.", "pt"), ("Sei un idiota.", "it")],
)
def test_short_insults_in_other_languages_are_not_read_as_english(text: str, code: str) -> None:
    assert detect(text).code == code  # read as English they would be scored by an English model and allowed


@pytest.mark.parametrize("text", ["ok lol", "Nice one", "This is absurd.", "Great article, thanks!"])
def test_short_english_comments_stay_english(text: str) -> None:
    assert detect(text).code == "en"
    assert primary("en-US") == "en" and primary("pt_BR") == "pt"


def test_the_deep_stance_head_reads_comment_and_target_together() -> None:
    import torch

    from service.model.network import Encoded
    from service.training.deep_stance import DeepStanceHead

    torch.manual_seed(0)
    head = DeepStanceHead(hidden=12, layers=2, heads=2).eval()
    comment = Encoded(torch.randn(3, 5, 12), torch.tensor([[1] * 5, [1] * 3 + [0] * 2, [1] * 5]))
    target = Encoded(torch.randn(3, 4, 12), torch.ones(3, 4, dtype=torch.long))
    logits = head(comment, target)
    assert logits.shape == (3, 4)
    other = Encoded(torch.randn(3, 4, 12), torch.ones(3, 4, dtype=torch.long))
    assert not torch.allclose(logits, head(comment, other))  # the target matters
