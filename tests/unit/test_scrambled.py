"""Whole comments written without vowels, with letters swapped or backwards, read back (service/model/scrambled.py),
and the comments with a misspelling, shorthand, acronyms or handles that must be left as written."""

from __future__ import annotations

import pytest

from service.model.obfuscation import plain_reading
from service.model.scrambled import unscrambled
from service.scoring.normalise import normalise


def _plain(text: str) -> str | None:
    return plain_reading(normalise(text).text)  # the model reads normalised text


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("Ths ppl are flthy anmls.", "these people are filthy animals."),
        ("Rfgs are vrmn tht shld be thrwn out.", "refugees are vermin that should be thrown out."),
        ("I wlil fnid yuor hosue and brun it dwon.", "i will find your house and burn it down."),
        ("Wmn shld stay in the ktchn.", "women should stay in the kitchen."),
        ("uoY era a sselhtrow toidi.", "you are a worthless idiot."),  # every word written backwards
    ],
)
def test_a_scrambled_comment_is_read_back(text: str, plain: str) -> None:
    assert _plain(text) == plain


def test_the_word_before_chooses_among_the_words_a_spelling_may_stand_for() -> None:
    """ "sht" spells "sheet", "shot", "shoot" and "shut" (and "shit", which the listed words read first): the word
    pairs pick what follows "will" and "should"."""
    assert unscrambled("i wll sht you in the hd") == "i will shoot you in the hd"
    assert unscrambled("smbdy shld sht the dr") == "somebody should shut the dr"


@pytest.mark.parametrize(
    "text",
    [
        "i cant beleive the mayor said that",  # one misspelling among words
        "pls thx, see you tmrw at the gym",  # shorthand: two words of six
        "the ndp and the cbc want the hst cut",  # acronyms, lower-cased by normalising
        "rt @brwnsmth: wht a gm http://t.co/xkcd #bllsht",  # a handle, a link and a hashtag are not words to respell
        "&gt;&gt;&gt; &lt;&lt;&lt; lol",  # character references
        "why try, my gym is by the sky",  # words with no vowel but y, which are words
    ],
)
def test_a_comment_that_is_not_scrambled_is_left_as_written(text: str) -> None:
    assert unscrambled(text) is None


def test_short_spellings_do_not_count_but_do_not_dilute() -> None:
    """Two-letter spellings ("yr", "hd") spell too many words to read back; they do not count against the share of
    scrambled words either, so a threat with many short words is still read."""
    assert unscrambled("kp tlkng and i wll put a bllt in yr hd") == "kp talking and i will put a bullet in yr hd"
