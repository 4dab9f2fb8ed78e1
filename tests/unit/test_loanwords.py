"""Abuse borrowed from another language, read in English (service/model/loanwords.py), as part of the plain reading."""

from __future__ import annotations

import pytest

from service.model.loanwords import GLOSSES, glossed, unaccented
from service.model.obfuscation import plain_reading
from service.scoring.normalise import normalise


def _plain(text: str) -> str | None:
    return plain_reading(normalise(text).text)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("The author is a hijo de puta.", "the author is a son of a bitch."),  # the phrase, not "puta" alone
        ("What a cabrón", "what a bastard"),  # accents optional
        ("This article is SCHEIßE!", "this article is shit!"),  # normalising folds ß to ss
        ("Vaffanculo,   editor", "vaffanculo, editor".replace("vaffanculo", "fuck you")),
        ("Shut up you madarchod", "shut up you motherfucker"),
        ("Go away, k.u.r.w.a", "go away, fuck"),  # a disguise is undone first, then the word is read
    ],
)
def test_borrowed_abuse_is_read_in_english(text: str, plain: str) -> None:
    assert _plain(text) == plain


@pytest.mark.parametrize(
    "text",
    [
        "The putative suspect ordered puttanesca at the Gagosian.",  # listed words inside longer words
        "Randi Weingarten spoke; I suka this, said my Malay friend.",  # left off the list: innocent uses
        "Merdeka Square and the spastic colon study",
        "Señor Pérez, the café is open",  # accents alone are no reason to read twice
    ],
)
def test_ordinary_text_is_not_read_twice(text: str) -> None:
    assert _plain(text) is None


def test_the_list_is_read_as_normalised_text_is_written() -> None:
    """Keys are lower case and unaccented, as ``glossed`` matches them; every gloss is English words."""
    for key, gloss in GLOSSES.items():
        assert key == unaccented(normalise(key).text) and gloss.isascii(), key
        assert glossed(key) == gloss


def test_unaccented_keeps_every_place() -> None:
    text = "cabrón, señor, ça, Dvořák"
    assert len(unaccented(text)) == len(text) and unaccented(text) == "cabron, senor, ca, Dvorak"
