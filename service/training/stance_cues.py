"""Explicit-agreement augmentation for the stance pass: some training replies get an opening that states their
stance in words ("I disagree.", "I can't disagree with that."), and as many again get an opening that says nothing
("Honestly,"), so the pass learns what explicit agreement and disagreement mean (negations included: "I don't
agree" is a disagreement) without learning that a reply's first words decide it. Training only; the dev splits are
never augmented.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from service.model.labels import STANCE_INDEX
from service.training.stance_pairs import StancePair

AGREE, DISAGREE = STANCE_INDEX["agree"], STANCE_INDEX["disagree"]

STATED = {
    AGREE: (
        "I agree.",
        "Exactly.",
        "Couldn't agree more.",
        "You're right.",
        "I can't disagree with that.",
        "This is correct.",
        "Agreed.",
        "I don't disagree at all.",
    ),
    DISAGREE: (
        "I disagree.",
        "I don't agree.",
        "That's not true.",
        "I couldn't disagree more.",
        "You're wrong about this.",
        "I can't agree with that.",
        "Not at all.",
        "I don't think that's right.",
    ),
}
NEUTRAL_OPENINGS = ("Honestly,", "Well,", "Okay,", "So,", "Look,", "Hmm,", "I mean,", "Right, so")

STATED_SHARE = 0.12  # of agree and disagree pairs, given a stated opening
NEUTRAL_SHARE = 0.12  # of agree and disagree pairs, given an opening that says nothing


def with_openings(batch: list[StancePair], rng: np.random.Generator) -> list[StancePair]:
    out = []
    for pair in batch:
        draw = rng.random()
        if pair.label not in STATED or draw >= STATED_SHARE + NEUTRAL_SHARE:
            out.append(pair)
            continue
        choices = STATED[pair.label] if draw < STATED_SHARE else NEUTRAL_OPENINGS
        opening = choices[int(rng.integers(len(choices)))]
        text = _lower_first(pair.text) if opening.endswith(",") else pair.text
        out.append(replace(pair, text=f"{opening} {text}"))
    return out


def _lower_first(text: str) -> str:
    """'The numbers...' after 'Honestly,' reads 'the numbers...'; 'I', acronyms and names keep their capital."""
    word = text.split(" ", 1)[0]
    if len(word) > 1 and word[0].isupper() and word[1:].islower() and word not in ("I", "I'm", "I've"):
        return text[0].lower() + text[1:]
    return text
