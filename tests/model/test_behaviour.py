"""Behaviour of the real shipped model: what a moderator would check first."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from service.config import DEFAULT_STANCE_PRIOR
from service.model.checkpoint import CheckpointError, read_weights
from service.model.cross_stance import read_config as read_cross_config
from service.model.labels import ATTRIBUTES, STANCES
from service.model.predict import Predictor, extract_spans
from tests.conftest import SHIPPED_MODEL, SHIPPED_STANCE

pytestmark = pytest.mark.model

ARTICLE_TITLE = "City council votes to close the central library"
ARTICLE_BODY = (
    "The city council voted 7-2 on Tuesday to close the central library next spring, citing a budget "
    "shortfall. Branch libraries will stay open with shorter hours."
)


def test_obvious_insult_scores_far_above_polite_disagreement(predictor: Predictor) -> None:
    insult, polite = predictor.predict(
        [
            "You are a pathetic idiot and everyone hates you.",
            "I respectfully disagree with the council's reasoning here.",
        ]
    )
    assert insult.scores["toxicity"] > 0.7
    assert polite.scores["toxicity"] < 0.3
    assert insult.scores["insult"] - polite.scores["insult"] > 0.4


def test_threats_reach_review_and_violent_words_alone_do_not(predictor: Predictor) -> None:
    """Sentences outside the threat templates: a threat of harm to a person against the same words used harmlessly
    (0.4 is the default review threshold for threat)."""
    text = "Keep writing lies like this and I will come to your house and stab you."
    threat, harmless, policy_talk = predictor.predict(
        [text, "Keep writing like this and I will come to your talk and cheer for you.", "This tax will kill jobs."]
    )
    assert threat.scores["threat"] > 0.8 and threat.scores["toxicity"] > 0.8
    assert any(s.attribute == "threat" and "stab" in text[s.start : s.end] for s in threat.spans)
    # the harmless twin stays below review; moderato-v4 scores it 0.31 (v3: 0.04), the price of catching threats
    # that name no act (model card, Changes from moderato-v3)
    assert harmless.scores["threat"] < 0.4 and policy_talk.scores["threat"] < 0.2


def test_unseen_threats_reach_review_and_their_words_in_friendly_use_do_not(predictor: Predictor) -> None:
    """Outside the threat templates: threats whose acts no template names, against the same words in everyday use
    (moderato-v3 scored the two threats 0.39 and 0.36)."""
    bridge, arson, donuts, keys = predictor.predict(
        [
            "I'll push you off a bridge if I see you.",
            "I'm going to set your car on fire tonight.",
            "I'm coming for the free donuts at the meeting.",
            "We will find your keys, they can't be far.",
        ]
    )
    assert bridge.scores["threat"] >= 0.4 and arson.scores["threat"] >= 0.4
    assert donuts.scores["threat"] < 0.2 and keys.scores["threat"] < 0.2


@pytest.mark.parametrize(
    ("obfuscated", "plain"),
    [
        ("Y0u are a p1ec3 of sh1t.", "You are a piece of shit."),
        ("You are an іdіоt.", "You are an idiot."),  # Cyrillic і and о
        ("You are a m-o-r-o-n.", "You are a moron."),
        ("You👏are👏a👏worthless👏idiot.", "You are a worthless idiot."),  # one unknown word to the tokenizer
        ("You are a 💩.", "You are a pile of poo."),  # an emoji in a noun's place, read by its name
        ("You id-iot, what a st.upid take.", "You idiot, what a stupid take."),  # one separator inside a word
        ("What a mo-ron, you lo-ser.", "What a moron, you loser."),  # cut into two words never side by side
        ("🖕 you, hogg", "fuck you, hogg"),  # the middle finger, an obscenity drawn
        ("Ur such a retaaaaard.", "Ur such a retard."),  # a drawn-out letter
        ("Fck you, what a dck.", "Fuck you, what a dick."),  # the vowels dropped
        ("Just unalive yourself, you fkn loser.", "Just kill yourself, you fucking loser."),  # stand-ins
        ("The author is a hijo de puta.", "The author is a son of a bitch."),  # borrowed from another language
        ("Vaffanculo, editor.", "Fuck you, editor."),
        ("уσυ αяє α ƒαт ℓσѕєя.", "You are a fat loser."),  # "faux Cyrillic"
        ("**You** are a **worthless** **idiot**.", "You are a worthless idiot."),  # Markdown emphasis
        ("Youareaworthlessidiot.", "You are a worthless idiot."),  # words run together
        ("Mxcns are vrmn and shld be dprtd.", "Mexicans are vermin and should be deported."),  # vowels dropped
        ("Yuor fmaily wlil be dead by tonihgt.", "Your family will be dead by tonight."),  # letters swapped
    ],
)
def test_obfuscated_abuse_reads_as_its_plain_spelling(predictor: Predictor, obfuscated: str, plain: str) -> None:
    """The plain reading (service/model/obfuscation.py) is one more reading, the worst winning: an obfuscated insult
    scores at least what it scores spelled plainly (moderato-v10 alone read "Y0u ar3 a p1ec3 0f sh1t" 0.18)."""
    hidden, seen = predictor.predict([obfuscated.lower(), plain.lower()])  # the model reads normalised text
    assert seen.scores["toxicity"] > 0.7
    for attribute in ("toxicity", "insult"):  # the same words read in another batch: bf16 moves them a little
        assert hidden.scores[attribute] >= seen.scores[attribute] - 0.05


def test_the_built_in_policy_holds_plain_threats(predictor: Predictor) -> None:
    """Threats the API scored 0.88 on Perspective's scale were allowed by the built-in policy, whose threat review
    then sat at 0.88 on that scale (service/config.py, DEFAULT_REVIEW)."""
    from service.config import Settings
    from service.model.calibration import Calibration
    from service.scoring.policy import Policy

    calibration = Calibration.load(SHIPPED_MODEL)
    policy = Policy.from_settings(Settings().default_policy, calibration)
    threats = [
        "I hope somebody blows up the council building with them in it.",
        "The judge should be hanged from a lamppost.",
        "I'll cut your tongue out.",
        "Hope you get hit by a bus.",  # death wishes written after the change: allowed before it too
        "You won't be smiling for long.",
    ]
    for text, prediction in zip(threats, predictor.predict([t.lower() for t in threats]), strict=True):
        assert policy.decide(calibration.scores(prediction.scores)).decision.value != "allow", text


def test_the_built_in_policy_removes_few_comments_that_stand_up_for_a_group_unseen(predictor: Predictor) -> None:
    """The model reads many short comments that stand up for a group as attacks on it ("Trans people deserve
    safety."): with a built-in rejection on identity attack, 16 % of them were removed with no one looking (2.5 %
    since, by severe toxicity; the rest held for review, where a person sees them). A clear identity attack is still
    held."""
    from service.config import Settings
    from service.model.calibration import Calibration
    from service.scoring.policy import Policy
    from service.training.identity import EVAL_ADVOCACY, templated

    calibration = Calibration.load(SHIPPED_MODEL)
    policy = Policy.from_settings(Settings().default_policy, calibration)
    texts = [t.text.lower() for t in templated(EVAL_ADVOCACY, ())] + ["all arabs are savages."]
    decisions = [policy.decide(calibration.scores(p.scores)).decision.value for p in predictor.predict(texts)]
    assert decisions.pop() != "allow"
    assert decisions.count("reject") / len(decisions) <= 0.05


def test_an_identity_attack_padded_with_civil_sentences_is_still_read(
    predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its sentence is read alone for identity attack (predict.IDENTITY_LOOK_GATE): without that, the padding hid it
    (identity attack 0.39, under the built-in review threshold 0.538); a harmless sentence naming a group stays low."""
    from service.model import predict

    attack = (
        "thanks for covering the school board meeting. gypsies are thieves, every one of them. see you all at the "
        "next one."
    )
    harmless = (
        "thanks for covering the school board meeting. my neighbours are roma and they run the best bakery in town. "
        "see you all at the next one."
    )
    read, kind = predictor.predict([attack, harmless])
    assert read.scores["identity_attack"] >= 0.9 and kind.scores["identity_attack"] < 0.3
    monkeypatch.setattr(predict, "IDENTITY_LOOK_GATE", 1.01)
    assert predictor.predict([attack])[0].scores["identity_attack"] < 0.538


def test_the_antisemitic_echo_is_read_for_what_it_says(predictor: Predictor) -> None:
    """A name in triple parentheses marks it as Jewish: the sentence is scored as a reader who knows the code reads
    it (moderato-v10 alone: identity attack 0.50, allowed), and a harmless sentence stays harmless."""
    texts = ["(((conservatives))) are enemies of whites!", "(((bernie))) wins the primary"]
    enemies, primary = predictor.predict(texts)
    assert enemies.scores["identity_attack"] > 0.8
    assert primary.scores["toxicity"] < 0.3 and primary.scores["identity_attack"] < 0.3


def test_an_emoji_against_a_word_does_not_hide_it(predictor: Predictor) -> None:
    """The tokenizer read "idiot😂" as one unknown word (toxicity 0.22); each symbol is now a token of its own, so the
    comment reads as it does with a space before the emoji."""
    glued, spaced, bare = predictor.predict(["you are an idiot😂", "you are an idiot 😂", "you are an idiot"])
    assert glued.scores == spaced.scores
    assert glued.scores["toxicity"] >= bare.scores["toxicity"] - 0.1
    (knife,) = predictor.predict(["die🔪"])
    assert knife.scores["toxicity"] > 0.5


def test_spans_land_on_the_insulting_word(predictor: Predictor) -> None:
    text = "Only a complete moron would vote for this budget."
    (result,) = predictor.predict([text])
    marked = " ".join(text[s.start : s.end] for s in result.spans).lower()
    assert "moron" in marked
    assert "budget" not in marked and "vote" not in marked
    assert all(s.attribute in ATTRIBUTES for s in result.spans)


def test_span_tokens_cut_the_same_spans_as_predict(predictor: Predictor) -> None:
    """The evaluation's threshold sweep cuts spans from span_tokens(); at the shipped threshold they are predict()'s."""
    texts = ["Only a complete moron would vote for this budget.", "Shut up, you idiot.", "Shut up, you idiot."]
    threshold = predictor.config.span_threshold
    results = predictor.predict(texts)
    assert all(r.spans for r in results)
    for text, (worst, tokens), result in zip(texts, predictor.span_tokens(texts), results, strict=True):
        assert worst == pytest.approx(max(result.scores.values()), abs=1e-4)
        assert extract_spans(text, tokens, threshold) == result.spans


def test_identity_mentions_alone_are_not_toxic(predictor: Predictor) -> None:
    texts = [
        "I am a gay man and I go to the library every week.",
        "As a Muslim woman I support the new budget.",
        "My neighbours are black and they agree with the council.",
    ]
    for result in predictor.predict(texts):
        assert result.scores["toxicity"] < 0.4
        assert result.scores["identity_attack"] < 0.3


def test_stance_tells_agreement_from_contradiction(predictor: Predictor) -> None:
    """A comment that repeats the headline's claim against one that contradicts it (the FNC sense of stance)."""
    article = predictor.encode_article(ARTICLE_TITLE, ARTICLE_BODY)
    pairs = [
        (
            "Yes, the city council voted to close the central library, I was at the meeting.",
            "This is false. The council never voted to close the library; the story is a hoax.",
        ),
        (
            "The council confirmed it will close the central library next spring.",
            "Fake news. No vote happened and the library is not closing.",
        ),
    ]
    for repeats, contradicts in pairs:
        agree, disagree = predictor.predict([repeats, contradicts], article)
        assert agree.stance is not None and disagree.stance is not None
        assert agree.stance.label == "agree" and disagree.stance.label == "disagree"


def test_short_on_topic_comments_are_not_called_unrelated(predictor: Predictor) -> None:
    article = predictor.encode_article(ARTICLE_TITLE, ARTICLE_BODY)
    results = predictor.predict(
        [
            "Good riddance, nobody reads books anymore.",
            "What about the staff who work there?",
            "I respectfully disagree with the council's reasoning here.",
        ],
        article,
    )
    assert all(r.stance is not None and r.stance.label != "unrelated" for r in results)


def test_off_topic_comment_is_unrelated(predictor: Predictor) -> None:
    article = predictor.encode_article(ARTICLE_TITLE, ARTICLE_BODY)
    (result,) = predictor.predict(["The new striker scored twice and the team finally won the derby."], article)
    assert result.stance is not None
    assert result.stance.scores["unrelated"] == max(result.stance.scores.values())


def test_toxicity_does_not_depend_on_the_article(predictor: Predictor) -> None:
    article = predictor.encode_article(ARTICLE_TITLE, ARTICLE_BODY)
    text = "The council members are clowns."
    (alone,), (under,) = predictor.predict([text]), predictor.predict([text], article)
    assert alone.scores == under.scores and alone.spans == under.spans
    assert alone.stance is None and under.stance is not None
    assert set(under.stance.scores) == set(STANCES)


def test_batch_equals_one_by_one(predictor: Predictor) -> None:
    texts = [
        "short",
        "You idiot.",
        "A much longer comment about the library budget and the council vote " * 3,
        "Thanks for reporting this.",
    ]
    batched = predictor.predict(texts)
    for text, together in zip(texts, batched, strict=True):
        (alone,) = predictor.predict([text])
        for attribute in ATTRIBUTES:
            # bf16 rounding differs slightly with padding; a decision threshold never sits this close
            assert alone.scores[attribute] == pytest.approx(together.scores[attribute], abs=0.02)


def test_traced_encoder_equals_the_eager_one(predictor: Predictor) -> None:
    """The shipped path runs the encoder as a frozen TorchScript graph; it must give the eager module's outputs
    for any batch size, length and padding."""
    texts = ["hi", "You idiot.", "A much longer comment about the library budget and the council vote " * 12]
    for batch in ([texts[0]], [texts[2]], texts):
        enc = predictor.tokenizer(batch, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode(), predictor._autocast():
            traced = predictor._encode(enc["input_ids"], enc["attention_mask"]).states.float()
            eager = predictor.net.encode(enc["input_ids"], enc["attention_mask"]).states.float()
        assert traced.shape == eager.shape
        assert torch.equal(traced, eager)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t ",
        "😀😀🔥",
        "Das ist eine sehr gute Entscheidung des Rates.",
        "これは図書館についてのコメントです",
        "a" * 20000,
    ],
)
def test_odd_input_is_handled(predictor: Predictor, text: str) -> None:
    (result,) = predictor.predict([text])
    assert set(result.scores) == set(ATTRIBUTES)
    assert all(0.0 <= v <= 1.0 for v in result.scores.values())
    assert all(0 <= s.start < s.end <= len(text) for s in result.spans)


def test_long_comment_is_read_to_the_end(predictor: Predictor) -> None:
    polite = "I think the council could have found the money elsewhere in the budget. " * 60
    (head,), (tail,) = predictor.predict([polite]), predictor.predict([polite + " You are all pathetic idiots."])
    assert tail.scores["toxicity"] > head.scores["toxicity"] + 0.3
    assert any(s.start > len(polite) for s in tail.spans)


def test_replies_take_sides_toward_their_parent(predictor: Predictor) -> None:
    """The cross-encoded pass (moderato-v6-stance) on replies: the polarity that moderato-v4's head did not have."""
    parent = predictor.encode_parent("The library should stay open. It is the heart of this town and worth every cent.")
    replies = [
        "Exactly right, we have to keep it open.",
        "Totally agree, the library matters to so many families here.",
        "No, it is a waste of money and should close.",
    ]
    labels = [p.stance_to_parent.label for p in predictor.predict(replies, parents=[parent] * 3)]  # type: ignore[union-attr]
    assert labels == ["agree", "agree", "disagree"]


@pytest.mark.xfail(strict=True, reason="known miss (model card): a disagreement argued with the parent's own words")
def test_a_disagreement_that_echoes_the_parent_is_read_as_disagreement(predictor: Predictor) -> None:
    parent = predictor.encode_parent("The library should stay open. It is the heart of this town and worth every cent.")
    (reply,) = predictor.predict(["I disagree completely. Nobody uses it anymore, close it."], parents=[parent])
    assert reply.stance_to_parent is not None and reply.stance_to_parent.label == "disagree"


def test_the_stance_model_leaves_toxicity_and_the_article_stance_alone(predictor: Predictor) -> None:
    plain = Predictor(SHIPPED_MODEL, stance_prior=list(DEFAULT_STANCE_PRIOR))
    article = predictor.encode_article(ARTICLE_TITLE, ARTICLE_BODY)
    text = ["Closing the library is a terrible mistake, you clowns."]
    (with_model,), (without,) = (
        predictor.predict(text, article),
        plain.predict(text, plain.encode_article(ARTICLE_TITLE, ARTICLE_BODY)),
    )
    assert with_model.scores == without.scores and with_model.spans == without.spans
    assert with_model.stance == without.stance  # the article is read by the late-interaction head in both


def test_the_stance_pass_keeps_the_encoder_its_adapters_were_trained_on(predictor: Predictor, tmp_path: Path) -> None:
    """A retrained comment model does not move stance: the adapters are merged into the encoder they were trained
    on, read from that model's folder beside the stance folder, so replies read exactly as they were measured."""
    encoder_version = read_cross_config(SHIPPED_STANCE).encoder_version
    (tmp_path / encoder_version).symlink_to(SHIPPED_STANCE.parent / encoder_version)
    (tmp_path / "stance").symlink_to(SHIPPED_STANCE)
    retrained = tmp_path / "moderato-retrained"  # the shipped model with its top encoder layer moved
    retrained.mkdir()
    config = json.loads((SHIPPED_MODEL / "config.json").read_text())
    (retrained / "config.json").write_text(json.dumps({**config, "version": "moderato-retrained", "weights_of": ""}))
    weights = read_weights(SHIPPED_MODEL)
    for name in [n for n in weights if n.startswith("encoder.encoder.layer.5.")]:
        weights[name] = weights[name] * 1.05
    save_file(weights, str(retrained / "weights.safetensors"))
    moved = Predictor(retrained, stance_prior=list(DEFAULT_STANCE_PRIOR), stance_folder=tmp_path / "stance")
    replies = ["Exactly right, keep it open.", "No, it is a waste of money.", "When does the vote happen?"]

    def read(p: Predictor) -> tuple[list[object], list[dict[str, float]]]:
        parent = p.encode_parent("The library should stay open. It is the heart of this town.")
        out = p.predict(replies, parents=[parent] * 3)
        return [r.stance_to_parent for r in out], [r.scores for r in out]

    (moved_stance, moved_scores), (stance, scores) = read(moved), read(predictor)
    assert moved_scores != scores  # the comment pass did change
    assert moved_stance == stance


def test_a_stance_model_without_its_encoder_is_refused(tmp_path: Path) -> None:
    stance = tmp_path / "stance"
    shutil.copytree(SHIPPED_STANCE, stance, ignore=shutil.ignore_patterns("checkpoint"))
    config = json.loads((stance / "stance_config.json").read_text())
    (stance / "stance_config.json").write_text(json.dumps({**config, "encoder_version": "moderato-elsewhere"}))
    with pytest.raises(CheckpointError, match="moderato-elsewhere"):
        Predictor(SHIPPED_MODEL, stance_folder=stance)


def test_each_stance_answer_says_how_sure_it_is(predictor: Predictor) -> None:
    """Both passes serve with a confidence map fitted on dev (`moderato calibrate-stance`): plain agreement is a
    confident label; the known miss, an explicit disagreement read as agreeing, is at least not presented as sure."""
    assert all(predictor.confidence_maps.values())
    parent = predictor.encode_parent("The library should stay open, it is the heart of this town.")
    article = predictor.encode_article(ARTICLE_TITLE, ARTICLE_BODY)
    replies = ["Completely agree, keep it open.", "I disagree, the numbers are fudged."]
    agree, fudged = (p.stance_to_parent for p in predictor.predict(replies, [article] * 2, [parent] * 2))
    assert agree is not None and agree.label == "agree" and agree.confident and agree.confidence >= 0.9
    assert fudged is not None and (fudged.label == "disagree" or not fudged.confident)
    for prediction in predictor.predict(replies, [article] * 2, [parent] * 2):
        for stance, name in ((prediction.stance, "article"), (prediction.stance_to_parent, "parent")):
            assert stance is not None
            confidence_map = predictor.confidence_maps[name]
            assert confidence_map is not None
            assert stance.confidence == confidence_map.confidence(stance.scores[stance.label])
            assert stance.confident == (stance.confidence >= confidence_map.confident_at)
