"""Templated severe abuse and its milder look-alikes: what the severe-toxicity output is retrained on.

Perspective's SEVERE_TOXICITY is "a very hateful, aggressive, disrespectful comment", and "much less sensitive to
milder forms of toxicity, such as comments that include positive uses of curse words". The shared sets never say
that: Toxic Spans has no severity question (the head read "the whole comment is toxic" as severe) and Davidson's
hate votes mark slurs, not violence. So moderato-v8's severe output ranked "Damn, that's a lot of money." with
"Eat shit and die" and no site rule at 0.8 could fire (model card).

These sentences say it: obscene abuse with a wish of death or harm, and dehumanising hate with a call to violence, as
positives; in the same frames, milder insults, positive uses of curse words and the same groups spoken of civilly, as
negatives. Training only: the clear cases that measure the scale (service/training/clear_cases.py) and the dev set
that chooses the mix (service/training/severe_dev.py) use their own words and frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

WISHES = (
    "go drink bleach", "choke on your own vomit", "I hope a truck flattens you", "jump off a bridge already",
    "crawl into a ditch and croak", "do the world a favour and stop breathing", "I hope someone beats you to death",
    "go play in traffic", "I'd dance on your grave", "may you suffer until you perish",
)  # fmt: skip
ABUSERS = (
    "motherfucker", "dickhead", "shithead", "twat", "fuckwit", "cocksucker", "dirtbag",
    "motherf*cker", "d!ckhead", "sh*thead", "f*ckface", "a**hole",
)  # fmt: skip
GROUPS = ("Somalis", "Roma", "Pakistanis", "Haitians", "Catholics", "lesbians", "Chinese people", "Africans")
DEHUMANISED = ("subhuman filth", "rats", "cockroaches", "a plague", "diseased animals")
VIOLENCE = ("wiped out", "exterminated", "lined up against a wall", "starved in camps")

MILD_WISHES = (
    "go touch grass", "take a break from the internet", "read the article first", "get some sleep",
    "try a fact check next time",
)  # fmt: skip
MILD_NOUNS = ("goofball", "silly goose", "old grump", "know-it-all", "contrarian", "armchair expert")
GOOD_NEWS = (
    "the council actually fixed the road", "this is great reporting", "what a comeback by the team",
    "the bridge finally opened", "my taxes went down",
)  # fmt: skip
CURSED_CHEER = ("Holy shit, {g}.", "Damn, {g}.", "{g}, fucking finally.", "Hell yes, {g}.")
KIND = ("our neighbours", "hard-working people", "part of this town", "welcome here")
FAIR = ("treated fairly", "heard out", "given a chance", "left in peace")


@dataclass(frozen=True)
class SevereSentence:
    text: str
    severe: bool


def training_severe() -> list[SevereSentence]:
    """Severe abuse (positives) and milder sentences in the same frames (negatives), in a fixed order."""
    out = [SevereSentence(f"{w.capitalize()}, you {a}.", True) for w, a in product(WISHES, ABUSERS)]
    out += [SevereSentence(f"You {a}, {w}.", True) for w, a in product(WISHES[::2], ABUSERS[::2])]
    out += [
        SevereSentence(f"{g} are {d} and should all be {v}.", True)
        for g, d, v in product(GROUPS, DEHUMANISED, VIOLENCE)
    ]
    out += [SevereSentence(f"{w.capitalize()}, you {n}.", False) for w, n in product(MILD_WISHES, MILD_NOUNS)]
    out += [SevereSentence(f"You {n}, {w}.", False) for w, n in product(MILD_WISHES, MILD_NOUNS)]
    out += [SevereSentence(c.format(g=g).capitalize(), False) for c, g in product(CURSED_CHEER, GOOD_NEWS)]
    out += [SevereSentence(f"{g} are {k} and should all be {f}.", False) for g, k, f in product(GROUPS, KIND, FAIR)]
    return out
