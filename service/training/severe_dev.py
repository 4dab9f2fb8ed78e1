"""A dev set for the severe-toxicity retune (``moderato retune-severe``): it chooses the templates' share.

Written apart from the training templates (service/training/severe.py) and from the clear cases that measure the
result (service/training/clear_cases.py); tests check that no sentence is shared. ``SEVERE`` is abuse nearly every
reader would call very toxic; ``NOT_SEVERE`` is rude, crude or heated but milder: what Perspective says its
SEVERE_TOXICITY is "much less sensitive to".
"""

from __future__ import annotations

SEVERE: tuple[str, ...] = (
    "Fuck off and die, you rancid bastard.",
    "I hope your whole family gets slaughtered, you prick.",
    "Somebody should strangle you, you worthless asshole.",
    "You diseased skank, go overdose already.",
    "Slit your wrists, you fat waste of space.",
    "Those filthy Gypsies should be burned alive.",
    "Throw every last one of those illegals into the sea to drown.",
    "You're a subhuman turd and I hope you suffocate.",
    "Die screaming, you shit-eating dog.",
    "Go hang from a tree, you sp*c.",
    "I want to see you bleed, you f*cking degenerate.",
    "Fucking bastard, I hope you get stabbed tonight.",
    "Drown yourself, you pathetic sack of crap.",
    "Every tr*nny deserves a bullet.",
    "You inbred hillbilly scum, nobody would notice if you were dead.",
    "Put them all in ovens, the dirty rats.",
    "Shut the fuck up and die, you dumb c**t.",
    "I'd piss on your corpse, you miserable wretch.",
    "Go get run over, you brain-dead fucktard.",
    "Kill every one of them, the filthy animals.",
)
NOT_SEVERE: tuple[str, ...] = (
    "This is the dumbest article I have read all year.",
    "What a load of crap.",
    "Damn, the mayor really blew it this time.",
    "You clearly have no idea what you are talking about.",
    "Oh shut up, nobody asked.",
    "The writer is an idiot.",
    "Holy crap, that's a huge tax hike.",
    "Stop whining, you big baby.",
    "This council is a bunch of clowns.",
    "Hell no, I'm not paying for that stadium.",
    "That's bullshit and you know it.",
    "What a dumb take.",
    "Screw this, I'm cancelling my subscription.",
    "Pretty sure you're just trolling, mate.",
    "The coach should be fired for that pathetic game.",
    "I'm so sick of these lying politicians.",
    "Your argument is garbage.",
    "Get a grip, man.",
    "That was one hell of a storm last night.",
    "The police killed the engine and waited for backup.",
)
