"""Suspect and banned words (#25 item 5): spacing, look-alike letters, stand-ins and repeats do not dodge a listed
word, and words that merely contain one are not caught."""

from __future__ import annotations

import pytest

from service.config import PolicySettings
from service.scoring.policy import Policy
from service.scoring.word_lists import WordList

LIST = WordList(["idiot*", "ass", "moron", "go kill yourself"])


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("You idiot", ["idiot*"]),
        ("you іdіот", ["idiot*"]),  # Cyrillic і, о, т
        ("what an аѕѕ", ["ass"]),  # Cyrillic а and ѕ (spelled by sound, ѕ would be "dz")
        ("Ꭵdiot", ["idiot*"]),  # a Cherokee letter that looks like i
        ("ｉｄｉｏｔ", ["idiot*"]),  # full-width
        ("𝐢𝐝𝐢𝐨𝐭", ["idiot*"]),  # mathematical bold
        ("i d i o t!", ["idiot*"]),
        ("i.d.i.o.t", ["idiot*"]),
        ("1d10t", ["idiot*"]),
        ("idiooot", ["idiot*"]),
        ("IDIOTS", ["idiot*"]),
        ("what an @ss", ["ass"]),
        ("a s s", ["ass"]),
        ("m0r0n.", ["moron"]),
        ("go   kill\nyourself", ["go kill yourself"]),
        ("go k i l l yourself", ["go kill yourself"]),
        ("You moron, you idiot", ["idiot*", "moron"]),
        ("ɪᴅɪᴏᴛ", ["idiot*"]),  # small capitals
        ("🅸🅳🅸🅾🆃", ["idiot*"]),  # negative squared letters
        ("\u202enorom", ["moron"]),  # shown "moron" by a right-to-left override
        ("uoʎ ssɐ", ["ass"]),  # upside down: "ass you"
        ("moron ʇǝ ɐ", ["moron"]),  # a listed word written plainly beside turned letters still counts
        ("you &#109;&#111;&#114;&#111;&#110;", ["moron"]),  # numeric character references
        ("go kiII yourself", ["go kill yourself"]),  # a capital I drawn as an l
    ],
)
def test_dodges_do_not_hide_a_listed_word(text: str, found: list[str]) -> None:
    assert LIST.find(text) == found


@pytest.mark.parametrize(
    "text", ["class act", "as sad as that is", "assessment", "bass guitar", "oxymoron", "Scunthorpe", "go on, kill it"]
)
def test_words_that_only_contain_a_listed_word_are_not_caught(text: str) -> None:
    assert LIST.find(text) == []


def test_banned_words_reject_and_suspect_words_send_to_review() -> None:
    policy = Policy.from_settings(PolicySettings(review={}, reject={}, suspect_words=["scam"], banned_words=["moron"]))
    assert policy.decide({}, text="Total m o r o n").decision == "reject"
    assert policy.decide({}, text="Total m o r o n").reasons == ["banned_word: moron"]
    assert policy.decide({}, text="this looks like a sc4m").reasons == ["suspect_word: scam"]
    assert policy.decide({}, text="a fine comment").decision == "allow"


def test_a_policy_refuses_misspelt_fields_and_thresholds_out_of_range() -> None:
    with pytest.raises(ValueError):
        PolicySettings.model_validate({"reveiw": {"toxicity": 0.5}})
    with pytest.raises(ValueError):
        PolicySettings(review={"toxicity": 1.5})
