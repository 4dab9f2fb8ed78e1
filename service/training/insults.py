"""Templated insults and their civil look-alikes: plain insults as clear positives for the insult head.

The shared sets teach insult from Toxic Spans' rater shares and OLID's targeted offences; neither says loudly
that "You are a worthless cretin." is an insult as surely as it is toxic. These sentences do, each with the
insulting phrase as an ``insult`` span, beside the same frames with a civil word ("You are a careful reader.") so
the head learns the word, not the frame. Training only: the hand-written clear cases that measure the scale
(service/training/clear_cases.py) use their own words and frames.
"""

from __future__ import annotations

from dataclasses import dataclass

FRAMES = (
    "You are a {w}.",
    "The author of this piece is a {w}.",
    "Only a {w} would post that.",
    "Honestly, what a {w}.",
    "Go back under your bridge, {w}.",
    "Spoken like a true {w}.",
    "Every commenter here is a {w}.",
    "The columnist is nothing but a {w}.",
)
INSULTING = (
    "worthless cretin", "braindead dumbass", "spineless jackass", "clueless nitwit", "lying scumbag",
    "pathetic lowlife", "drooling numbskull", "ignorant bozo", "smug blowhard", "gutless sellout",
    "snivelling toady", "halfwitted dunce", "complete nincompoop", "useless parasite", "deluded crank",
)  # fmt: skip
CIVIL = (
    "careful reader", "thoughtful writer", "good neighbour", "fair critic", "patient teacher", "real expert",
    "decent person", "sharp observer", "loyal subscriber", "keen gardener",
)  # fmt: skip


@dataclass(frozen=True)
class InsultSentence:
    text: str
    insult: bool
    span: tuple[int, int] | None  # the insulting phrase, for insults


def training_insults() -> list[InsultSentence]:
    out = []
    for frame in FRAMES:
        for words, insult in ((INSULTING, True), (CIVIL, False)):
            for word in words:
                text = frame.format(w=word)
                start = text.index(word)
                out.append(InsultSentence(text, insult, (start, start + len(word)) if insult else None))
    return out
