"""Pure pieces of the compatibility shapes and the new model outputs: sentence scores, UTF-16 offsets, Coral's
signature and story claims, OpenAI's category mapping, the reply summary, language detection."""

from __future__ import annotations

import hashlib
import hmac

import numpy as np
import pytest

from service.api.compat.coral import safe_id, signed_by, story_claim
from service.api.compat.openai_moderations import NOT_SCORED, SCORED, _result
from service.api.compat.perspective import utf16_offset
from service.model.labels import parent_scores
from service.model.predict import sentence_scores
from service.moderation.threads import with_reply_summaries
from service.scoring.language import detect, primary


def _logit(p: float) -> np.ndarray:
    return np.array([np.log(p / (1 - p))] + [0.0] * 5)


def test_each_sentence_gets_its_most_toxic_token() -> None:
    text = "Nice work.  You idiot! Why?"
    tokens = [((0, 4), _logit(0.1)), ((5, 9), _logit(0.05)), ((12, 15), _logit(0.2)), ((16, 21), _logit(0.9)),
              ((23, 26), _logit(0.3))]  # fmt: skip
    assert sentence_scores(text, tokens) == [(0, 10, 0.1), (12, 22, 0.9), (23, 27, 0.3)]


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
    result = _result(scores, {"insult": 0.6, "threat": 0.4, "identity_attack": 0.4})
    assert result["category_scores"]["harassment"] == 0.8 and result["categories"]["harassment"]
    assert result["category_scores"]["hate/threatening"] == 0.05 and not result["categories"]["hate/threatening"]
    assert result["categories"]["hate"] and result["flagged"]
    for name in NOT_SCORED:
        assert result["category_scores"][name] == 0.0 and result["category_applied_input_types"][name] == []
    assert set(result["categories"]) == set(SCORED) | set(NOT_SCORED)


def test_parent_stance_folds_discuss_and_unrelated_into_neutral() -> None:
    assert parent_scores({"agree": 0.1, "disagree": 0.6, "discuss": 0.2, "unrelated": 0.1}) == {
        "agree": 0.1, "disagree": 0.6, "neutral": 0.3,
    }  # fmt: skip


def test_reply_summary_counts_stances_and_hostility() -> None:
    def comment(cid: str, parent: str | None, label: str | None, tox: float) -> dict[str, object]:
        stance = {"label": label} if label else None
        return {"id": cid, "parent_id": parent, "stance_to_parent": stance, "scores": {"toxicity": tox}}

    rows = with_reply_summaries(
        [
            comment("p", None, None, 0.1),
            comment("a", "p", "agree", 0.0),
            comment("b", "p", "disagree", 0.8),
            comment("c", "p", "disagree", 0.4),
            comment("d", "b", "neutral", 0.2),
        ]  # fmt: skip
    )
    root = rows[0]["replies"]
    assert root == {"count": 3, "agree": 1, "disagree": 2, "neutral": 0, "disagreeing_max_toxicity": 0.8,
                    "disagreeing_mean_toxicity": 0.6}  # fmt: skip
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
