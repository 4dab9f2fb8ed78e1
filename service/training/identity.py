"""Identity terms and templated sentences: training balance and the Jigsaw unintended-bias evaluation.

Training templates and evaluation templates are disjoint, so the bias metrics are not measured on sentences the
model was taught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Subgroup -> surface forms (lower case) used to detect a mention.
IDENTITY_TERMS: dict[str, tuple[str, ...]] = {
    "lgbtq": ("gay", "lesbian", "queer", "lgbt", "lgbtq", "homosexual"),
    "bisexual": ("bisexual",),
    "trans": ("transgender", "trans"),
    "muslim": ("muslim", "muslims", "islam", "islamic"),
    "jewish": ("jew", "jews", "jewish", "judaism"),
    "christian": ("christian", "christians", "catholic"),
    "black": ("black", "african american"),
    "white": ("white",),
    "asian": ("asian", "asians", "chinese"),
    "latino": ("latino", "latina", "hispanic", "mexican", "mexicans"),
    "immigrant": ("immigrant", "immigrants", "refugee", "refugees"),
    "women": ("woman", "women", "female", "girls"),
    "disability": ("disabled", "blind", "deaf", "wheelchair", "autistic"),
    "middle_east": ("arab", "arabs", "middle eastern"),
    "native_american": ("native american", "native americans", "indigenous"),
}

# One adjective-like form per subgroup for building sentences.
TEMPLATE_FORMS: dict[str, tuple[str, ...]] = {
    "lgbtq": ("gay", "lesbian", "queer"),
    "bisexual": ("bisexual",),
    "trans": ("transgender", "trans"),
    "muslim": ("muslim",),
    "jewish": ("jewish",),
    "christian": ("christian", "catholic"),
    "black": ("black", "african american"),
    "white": ("white",),
    "asian": ("asian", "chinese"),
    "latino": ("latino", "hispanic", "mexican"),
    "immigrant": ("immigrant",),
    "women": ("female",),
    "disability": ("disabled", "deaf", "blind"),
    "middle_east": ("arab", "middle eastern"),
    "native_american": ("native american", "indigenous"),
}

TRAIN_NEUTRAL = (
    "I am a {x} person and I read this paper every morning.",
    "My neighbour is {x} and we often talk about the council budget.",
    "As a {x} voter, I think the article makes a fair point about taxes.",
    "{X} people in my town were at the meeting last night.",
    "The {x} community centre is hosting a book fair on Saturday.",
    "My best friend is {x}.",
    "Being {x} has nothing to do with how you do your job.",
    "The article quotes a {x} teacher who has worked here for twenty years.",
)
TRAIN_TOXIC = (
    "{X} people are disgusting and should get out of this country.",
    "I hate {x} people, every one of them is a parasite.",
    "Shut up, you stupid {x} idiot.",
    "All {x} people are filthy animals.",
    "Somebody should beat up that {x} moron.",
    "{X} people are vermin and deserve nothing.",
)
EVAL_NEUTRAL = (
    "I am {x}.",
    "Being {x} is fine.",
    "I am a proud {x} person.",
    "We welcomed a {x} family next door.",
    "The {x} author wrote a thoughtful reply.",
    "Our mayor is {x} and works hard.",
)
EVAL_TOXIC = (
    "I despise {x} people.",
    "{X} people are worthless scum.",
    "Get lost, you dumb {x} loser.",
    "Every {x} person is a criminal and a liar.",
    "Being {x} is disgusting.",
    "Kill all the {x} people.",
)

# A second evaluation set, worded apart from both sets above (longer, comment-like; neutral sentences that discuss
# prejudice, toxic ones without a single swear word): a bias score that holds only on the first set's phrasing
# would show here.
EVAL2_NEUTRAL = (
    "Discrimination against {x} people is still far too common in hiring.",
    "The article should have asked a {x} resident what they think of the plan.",
    "Is it true that the new clinic was founded by a {x} doctor?",
    "My grandmother was {x} and she taught me to cook.",
    "Nobody should be harassed for being {x}, and the council is right to say so.",
    "A {x} student won the regional science prize this year.",
    "I grew up in a {x} neighbourhood and it shaped who I am.",
    "The poll found that {x} voters are split on the tax question.",
)
EVAL2_TOXIC = (
    "{X} people should not be allowed to vote or hold office.",
    "We were better off before {x} people moved into this town.",
    "Typical {x} behaviour, lying and stealing as always.",
    "No decent employer would ever hire a {x} person.",
    "{X} people breed like rats and ruin every place they live.",
    "Send every {x} person back where they came from, they are a plague.",
)

# A third, harmless only: comments that stand up for a group, short, in the words attacks on it use ("hate",
# "deserve", "rights"). moderato-v10 read many as attacks on the group ("Trans people deserve safety." identity attack
# and toxicity near 1.0) and the built-in policy of 2026-12-05 rejected 16 % of them unseen (model card, "The built-in
# reject thresholds"). Worded apart from the training templates; evaluation only.
EVAL_ADVOCACY = (
    "Justice for {x} people.",
    "Support {x} rights.",
    "Say no to {x} hate.",
    "{X} people deserve safety.",
    "{X} voices matter.",
    "Respect {x} people.",
)


@dataclass(frozen=True)
class TemplateSentence:
    text: str
    subgroup: str
    toxic: bool


def fill(template: str, form: str) -> str:
    """A template with a group's form in its slot ({x}, or {X} at the start of a sentence)."""
    return template.replace("{X}", form[0].upper() + form[1:]).replace("{x}", form)


def templated(neutral: tuple[str, ...], toxic: tuple[str, ...]) -> list[TemplateSentence]:
    """Every template filled with every subgroup form, labelled by the template's toxicity."""
    out = []
    for subgroup, forms in TEMPLATE_FORMS.items():
        for form in forms:
            out += [TemplateSentence(fill(t, form), subgroup, False) for t in neutral]
            out += [TemplateSentence(fill(t, form), subgroup, True) for t in toxic]
    return out


_TERM_PATTERNS = {
    group: re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\b", re.IGNORECASE)
    for group, terms in IDENTITY_TERMS.items()
}


def mentioned_subgroups(text: str) -> set[str]:
    """Subgroups whose terms occur in the text as whole words."""
    return {group for group, pattern in _TERM_PATTERNS.items() if pattern.search(text)}
