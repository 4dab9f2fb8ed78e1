"""Templated threats and their look-alikes: the threat attribute's training signal and its held-out check.

The shared sets hold about a hundred comments that most annotators call a threat: too few to learn the attribute
(moderato-v2 scored "I will find you and hurt you." 0.007 threat, 0.15 toxicity). These sentences add threats of harm
to a person, each with its threatening phrase as a ``threat`` span, and two kinds of contrast so the head learns
intent toward a person rather than violent words: the same frames with a harmless act ("I will find you and buy you
a coffee"), and violent verbs used the way news comments use them ("this tax will kill small businesses").
Threats that name no act at all (intimidation: "I know where you live.") are whole sentences, the sentence being
the span. Training and evaluation use disjoint frames, acts, sentences and look-alikes, as the identity templates
do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Frames take an act addressed to the reader ({act}); acts use {o} for the object pronoun and {p} for the possessive.
TRAIN_FRAMES_YOU = (
    "I will find you and {act}.",
    "Say that again and I'll {act}.",
    "I know where you live and I'm going to {act}.",
    "Watch your back, I am coming to {act}.",
    "One more comment like that and we will {act}.",
    "If I ever see you in town I will {act}.",
    "Keep posting this garbage and someone will {act}.",
    "You better stay home tonight, because I'm going to {act}.",
)
TRAIN_FRAMES_THEM = (
    "Someone should find the author of this article and {act}.",
    "If that councillor shows up at the meeting, I will {act}.",
    "Give me five minutes alone with the mayor and I'll {act}.",
    "I hope somebody waits outside the reporter's house to {act}.",
)
TRAIN_VIOLENT_ACTS = (
    "hurt {o}",
    "kill {o}",
    "break {p} legs",
    "burn {p} house down",
    "beat {o} senseless",
    "put a bullet in {o}",
    "make {o} bleed",
    "smash {p} face in",
    "slit {p} throat",
    "hang {o} from a tree",
)
TRAIN_HARMLESS_ACTS = (
    "buy {o} a coffee",
    "show {o} the full report",
    "explain the budget to {o}",
    "shake {p} hand",
    "send {o} the link to the study",
    "thank {o} for the article",
    "ask {o} about the zoning plan",
)
EVAL_FRAMES_YOU = (
    "I'm going to {act}.",
    "Next time you write something like this, I will {act}.",
    "We know your address, so expect us to {act}.",
    "Don't be surprised when I show up at your door to {act}.",
)
EVAL_FRAMES_THEM = (
    "Somebody needs to follow that editor home and {act}.",
    "When the senator comes back to town, we'll {act}.",
)
EVAL_VIOLENT_ACTS = ("stab {o}", "shoot {o}", "strangle {o}", "run {o} over with my truck", "bash {p} skull in")
EVAL_HARMLESS_ACTS = ("interview {o} for the newsletter", "walk {o} through the numbers", "give {o} a ride")

# Intimidation that names no act: being watched, found, hunted. moderato-v3 missed these ("I know where you live and
# I'm coming for you." 0.04 threat, "I will hunt you down." 0.06, "We will find your kids after school." 0.00).
TRAIN_STANDALONE_THREATS = (
    "I know where you live.",
    "I will hunt you down.",
    "Sleep with one eye open tonight.",
    "I'm coming for you and your family.",
    "Better check under your car before you start it.",
    "Your family isn't safe while you keep writing this.",
    "You'll disappear and nobody will ever find you.",
    "Enjoy your last week in this town.",
    "I've been watching you leave work every day.",
    "Keep it up and you'll end up in the river.",
)
EVAL_STANDALONE_THREATS = (
    "We know which school your daughter goes to.",
    "You won't see me coming.",
    "I'll be waiting for you in the parking lot tonight.",
    "Nobody will miss you when you're gone, and that's soon.",
    "We have your address and we are on our way.",
    "Count your days, journalist.",
)

# Violent words that threaten no one: policy, sport, idiom, weather, and reports of someone else's threat.
TRAIN_LOOKALIKES = (
    "This tax will kill small businesses in our town.",
    "The new bus routes will hurt families who work night shifts.",
    "Online shopping is killing the high street.",
    "I'd kill for a decent train service in this county.",
    "Our team beat them fair and square on Saturday.",
    "The storm is going to hit the coast hard tomorrow.",
    "Police said the man threatened to shoot his neighbour during the argument.",
    "That joke absolutely killed me, thanks for the laugh.",
    "The senator's proposal is dead on arrival.",
    "Watch your back on the icy steps by the library.",
    "Budget cuts will break the back of our school system.",
    "The fire burned down two houses on Main Street.",
    "With this policy the council is shooting itself in the foot.",
    "We will fight this zoning change at the ballot box.",
    "The article destroys every argument for the new stadium.",
    "Prices are bleeding pensioners dry.",
    "The hunter was charged after he shot a deer out of season.",
    "The film is about a soldier who comes home from the war.",
    "If they raise fares again, I'll vote them out.",
    "The judge sentenced him for stabbing a shop owner last year.",
    # reports of violence, as news comments quote and discuss them (moderato-v3 read some as threats)
    "The suspect beat the cashier and fled, witnesses told reporters.",
    "Two men were shot outside the bar early on Sunday, police confirmed.",
    "The court heard that he had threatened to kill his former partner.",
    "She was killed in a hit-and-run on the ring road last month.",
    "Prosecutors say the guard was stabbed during the riot.",
    "The body was found in the river, and the death is being treated as murder.",
    "According to the indictment, the gang burned the rival's car and broke his legs.",
    "My cousin was mugged and beaten on that street, so the new lights are overdue.",
    "The documentary shows how the dictator had his opponents hanged.",
    "The officer who choked the suspect has been suspended.",
    # the standalone threats' words in friendly use (moderato-v3 scored "Break a leg at your recital tonight!" 0.77)
    "Break a leg at your recital tonight!",
    "I know where you live, so I'll drop the casserole off at six.",
    "We will find your lost cat, the whole street is looking.",
    "I'm coming for the free coffee at the town hall.",
    "Our campaign will hunt down every last vote before Tuesday.",
    "Enjoy your last week before retirement, you've earned it.",
    "Better check the weather before you start the drive.",
    "The detective hunted down the original documents.",
)
EVAL_LOOKALIKES = (
    "The new tariffs are going to murder our export numbers.",
    "The quarterback got crushed by the defence all night.",
    "My phone battery is dying again.",
    "The victim was strangled, according to the coroner's report.",
    "Let's knock out this project before the holidays.",
    "The opposition will attack the bill in committee.",
    "The rain ruined the market, but we'll be back next week.",
    "He was shot dead by police, the family's lawyer said.",
    "Knock 'em dead at the audition tomorrow!",
    "I'll be waiting for you at the station with an umbrella.",
    "We know which school won the debate trophy.",
)

PRONOUNS_YOU = {"o": "you", "p": "your"}
PRONOUNS_THEM = ({"o": "him", "p": "his"}, {"o": "her", "p": "her"}, {"o": "them", "p": "their"})
_SLOT = re.compile(r"\{act\}")


@dataclass(frozen=True)
class ThreatSentence:
    text: str
    threat: bool
    span: tuple[int, int] | None  # the threatening phrase, for threats


def _filled(frame: str, act: str, pronouns: dict[str, str], threat: bool) -> ThreatSentence:
    phrase = act.format(**pronouns)
    start = _SLOT.search(frame).start()  # type: ignore[union-attr]  # every frame has the slot
    text = _SLOT.sub(phrase, frame)
    return ThreatSentence(text, threat, (start, start + len(phrase)) if threat else None)


def _standalone(text: str) -> ThreatSentence:
    """A threat that names no act: all of it is the threatening phrase, but for the closing punctuation."""
    return ThreatSentence(text, True, (0, len(text.rstrip(".!?"))))


def threat_sentences(
    frames_you: tuple[str, ...],
    frames_them: tuple[str, ...],
    violent: tuple[str, ...],
    harmless: tuple[str, ...],
    lookalikes: tuple[str, ...],
    standalone: tuple[str, ...] = (),
) -> list[ThreatSentence]:
    """Every frame with every act (third-person frames cycle through the pronouns), the threats that name no act,
    then the look-alikes."""
    out = []
    for acts, threat in ((violent, True), (harmless, False)):
        for i, act in enumerate(acts):
            out += [_filled(frame, act, PRONOUNS_YOU, threat) for frame in frames_you]
            out += [
                _filled(frame, act, PRONOUNS_THEM[(i + j) % len(PRONOUNS_THEM)], threat)
                for j, frame in enumerate(frames_them)
            ]
    out += [_standalone(text) for text in standalone]
    return out + [ThreatSentence(text, False, None) for text in lookalikes]


def training_threats() -> list[ThreatSentence]:
    return threat_sentences(
        TRAIN_FRAMES_YOU,
        TRAIN_FRAMES_THEM,
        TRAIN_VIOLENT_ACTS,
        TRAIN_HARMLESS_ACTS,
        TRAIN_LOOKALIKES,
        TRAIN_STANDALONE_THREATS,
    )


def evaluation_threats() -> list[ThreatSentence]:
    return threat_sentences(
        EVAL_FRAMES_YOU,
        EVAL_FRAMES_THEM,
        EVAL_VIOLENT_ACTS,
        EVAL_HARMLESS_ACTS,
        EVAL_LOOKALIKES,
        EVAL_STANDALONE_THREATS,
    )
