"""On-topic reactions and off-topic chatter: what teaches the article stance head that an insult is not off-topic.

The head learned `unrelated` from random pairings (FNC, ARC) and from VAST comments under another article's topic, so
it reads "unrelated" as "shares no words with the title". A reader who writes "This reporter is a clown" or "What a
joke" under a story is reacting to that story: on-topic, whatever its stance. Off-topic is chatter and spam that
would read the same under any story. These generated pairs carry exactly that:

- reactions (mockery, insults and sarcasm aimed at the story, its people, its author or the other commenters, and
  plain civil reactions) under any training claim: on-topic, stance unknown (the head's RELATED loss);
- chatter and spam under any training claim: `unrelated`.

Training uses only the phrases here; the behaviour set that measures the head (tests/model/topicality_set.py) is
written separately, with its own articles, phrases and targets.
"""

from __future__ import annotations

import random
import re

from service.training.data import StanceExample

# Who a reaction is aimed at, when it names nothing in the article: the story itself, its author, its readers.
GENERIC_TARGETS = (
    "the reporter", "this reporter", "the author", "whoever wrote this", "the writer", "this journalist",
    "the editor", "this paper", "the people in charge", "these people", "you people", "the commenters here",
    "everyone involved", "the officials", "the so-called experts", "this lot", "the clowns running this",
)  # fmt: skip
INSULT_FRAMES = (
    "{t} is a complete idiot.",
    "What a bunch of morons {t} are.",
    "{t} should be ashamed, pathetic.",
    "Only a fool like {t} would believe this.",
    "{t} has the brains of a rock.",
    "Typical garbage from {t}.",
    "{t} couldn't find their way out of a paper bag.",
    "Shut up already, {t}.",
    "{t} are liars and cowards, every one of them.",
    "Nobody cares what {t} thinks, loser.",
    "Pure stupidity from {t}, as always.",
    "{t} is a disgrace.",
)
SARCASM = (
    "Oh great, another genius idea.",
    "Wow, what a surprise. Said no one.",
    "Sure, because that always works out so well.",
    "Brilliant. Just brilliant.",
    "Can't wait to see how they mess this up.",
    "What a joke.",
    "This is a clown show.",
    "Incompetence on full display.",
    "You can't make this stuff up.",
    "Another day, another disaster.",
    "Same old nonsense, different day.",
    "Of course they did. Idiots.",
)
CIVIL_REACTIONS = (
    "Thanks for reporting this.",
    "I had no idea, this is worth knowing.",
    "Good piece, well researched.",
    "This is really sad to read.",
    "Finally some good news.",
    "I have mixed feelings about this.",
    "Interesting, I'd like to see the numbers.",
    "Not sure what to make of this.",
)
# Would read the same under any story: what `unrelated` means for a comment.
CHATTER = (
    "Check out my channel for free giveaways!",
    "I earn $90 an hour working from home, message me to learn how.",
    "Anyone know if the pool is open on Sunday?",
    "Happy birthday to my little sister!",
    "First!",
    "Go Packers!",
    "Where can I buy cheap sneakers online?",
    "lol my cat just knocked my coffee off the table",
    "Is anyone else's internet down right now?",
    "Buy crypto now before it's too late, link in my profile.",
    "Visit my blog for the best pasta recipes.",
    "Does anybody have a good plumber to recommend?",
    "Hot singles in your area, click here.",
    "My favourite band is touring next month, so excited.",
    "Who wants to trade Pokemon cards?",
    "Test comment, please ignore.",
    "Lost dog near Elm Street, brown lab, answers to Max.",
    "Get 50% off all vitamins today only with code SAVE50.",
    "Good morning everyone, have a nice day!",
    "What's the best phone to buy this year?",
)
SUBJECT_FRAMES = ("What a joke {s} is.", "{s} is run by idiots.", "Typical {s}, useless as always.")


def _subject(claim: str, rng: random.Random) -> str | None:
    """A noun phrase of the claim to aim a reaction at ("this council"), when it has a plain lowercase word."""
    words = [w for w in re.findall(r"[A-Za-z]{5,}", claim) if w.islower()]
    return f"this {rng.choice(words)}" if words else None


def reaction(claim: str, rng: random.Random) -> str:
    """One on-topic reaction to a story with this claim."""
    kind = rng.random()
    if kind < 0.45:
        target = rng.choice(GENERIC_TARGETS)
        text = rng.choice(INSULT_FRAMES).format(t=target)
        return text[0].upper() + text[1:]
    if kind < 0.6 and (subject := _subject(claim, rng)):
        text = rng.choice(SUBJECT_FRAMES).format(s=subject)
        return text[0].upper() + text[1:]
    if kind < 0.85:
        return rng.choice(SARCASM)
    return rng.choice(CIVIL_REACTIONS)


def topicality_pairs(claims: list[str], count: int, seed: int, related: int, unrelated: int) -> list[StanceExample]:
    """``count`` reactions (label ``related``) and ``count`` chatter posts (label ``unrelated``) under claims drawn
    from ``claims``."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        claim = rng.choice(claims)
        out.append(StanceExample(reaction(claim, rng), claim, related, "topicality_related"))
        out.append(StanceExample(rng.choice(CHATTER), rng.choice(claims), unrelated, "topicality_unrelated"))
    return out
