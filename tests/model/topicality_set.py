"""Behaviour set for article stance's on-topic call: comments under invented articles, written apart from the training
phrases (service/training/topicality.py) and never trained on.

Per article: insults, mockery and sarcasm aimed at the story, its people, its author or the other commenters (on-topic:
`unrelated` is wrong for them), civil on-topic comments, and off-topic chatter and spam (`unrelated` is right).
Issue 23's targets: on-topic insults called `unrelated` <= 10 %, off-topic chatter and spam caught >= 70 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.model.predict import Predictor


@dataclass(frozen=True)
class Article:
    title: str
    lead: str
    insults: tuple[str, ...]  # on-topic abuse, mockery, sarcasm
    civil: tuple[str, ...]  # on-topic, civil
    off_topic: tuple[str, ...]  # chatter and spam


ARTICLES: tuple[Article, ...] = (
    Article(
        "Council votes to close the central library",
        "The city council voted 7-2 on Tuesday to close the central library next spring to save money.",
        ("What a joke this city is.", "This reporter is a useless buffoon.", "Seven clueless councillors, unreal.",
         "Morons, the lot of them."),
        ("Where will students study now?", "The library was the only quiet place downtown."),
        ("Anyone selling a used bike?", "Click my profile for cheap phone cases!!!"),
    ),
    Article(
        "Embassy protest turns violent as police make arrests",
        "Police arrested 14 people after a protest outside the embassy turned violent on Saturday.",
        ("Mouthy cowards, every one of them.", "Lock up these thugs and throw away the key.",
         "The journalist clearly sides with the rioters, pathetic.", "Idiots with signs, nothing more."),
        ("Peaceful protest is a right, violence is not.", "Fourteen arrests seems low for that crowd."),
        ("My sister's wedding is next week, so nervous!", "Work from home and earn thousands, DM me."),
    ),
    Article(
        "School board delays new start times again",
        "The school board postponed its decision on later start times for the third time this year.",
        ("Spineless board, as usual.", "Who hired these clowns?", "Another masterpiece of bureaucratic cowardice.",
         "Whoever wrote this has never met a teenager, dimwit."),
        ("Teenagers need more sleep, the research is clear.", "Bus schedules are the real problem here."),
        ("Does anybody know a good dentist in the east end?", "FREE gift cards at my site, limited time"),
    ),
    Article(
        "Mayor unveils plan for downtown bike lanes",
        "The mayor announced 12 kilometres of protected bike lanes to be built over two years.",
        ("The mayor is a smug fool.", "Great, more wasted money from this genius.",
         "Only an idiot drives downtown anyway, right?", "Typical lazy reporting from this rag."),
        ("Protected lanes make a real difference for safety.", "Two years sounds optimistic."),
        ("Go Leafs go!", "Lost my keys somewhere near the mall, reward if found."),
    ),
    Article(
        "Hospital wait times hit record high",
        "Emergency room waits averaged nine hours last month, the longest since records began.",
        ("The health minister should be ashamed, what a disgrace.", "Nine hours? These administrators are clowns.",
         "Commenters here are too dumb to understand funding.", "Brilliant management, truly world class. Not."),
        ("My father waited eleven hours last week.", "We need more nurses, not more managers."),
        ("Happy Friday everyone!", "Best crypto signals here, join my group."),
    ),
    Article(
        "Province raises minimum wage to $17",
        "The minimum wage will rise to $17 an hour in October, the labour minister said.",
        ("The minister is a clueless hack.", "Wow, seventeen whole dollars, how generous of these geniuses.",
         "Anyone who cheers this is an economic illiterate.", "Pandering fools."),
        ("Rent has gone up far more than that.", "Small businesses will struggle with this."),
        ("Who else is watching the finale tonight?", "Cheap Rolex replicas, message me."),
    ),
    Article(
        "City approves tower next to historic church",
        "Council approved a 40-storey condo tower beside St. Mark's church despite objections.",
        ("Developers own this council, the crooks.", "Ugly tower for ugly people.",
         "Nice puff piece, did the developer write it?", "Council is full of greedy weasels."),
        ("The church should be protected.", "We need housing, the tower makes sense."),
        ("My cat has learned to open doors, send help.", "Visit my store for 70% off shoes."),
    ),
    Article(
        "Transit fares to rise 10 cents in January",
        "The transit agency will raise fares by 10 cents, citing fuel and labour costs.",
        ("Incompetent agency, worse every year.", "Ten cents more for the same garbage service, thanks morons.",
         "This writer obviously never rides the bus.", "Clowns running a circus."),
        ("Ten cents is a lot for people on fixed incomes.", "Service frequency matters more than price."),
        ("Anybody want two concert tickets for Saturday?", "Get rich quick, link below."),
    ),
    Article(
        "Police chief resigns after audit",
        "The police chief stepped down after an audit found $2 million in unexplained overtime.",
        ("Good riddance to that crook.", "The whole department is rotten, bunch of liars.",
         "Only a fool would believe the chief didn't know.", "Shocking, a cop who cheated. Who could have guessed."),
        ("The audit should be published in full.", "Who approved the overtime in the first place?"),
        ("Rain again, this summer is ruined.", "I lost 20 pounds with this one weird trick."),
    ),
    Article(
        "Local team fires coach after losing streak",
        "The club fired its head coach after nine straight losses.",
        ("That coach was a clueless bum.", "Management are idiots for hiring him.",
         "You people defending him are delusional.", "Nine losses, what a genius strategist."),
        ("The players share the blame too.", "Firing the coach rarely fixes a roster."),
        ("Where is the best pizza in town?", "Follow me for daily giveaways!"),
    ),
    Article(
        "Water main break floods downtown streets",
        "A burst water main flooded three blocks downtown, closing businesses for a day.",
        ("The city's engineers are a joke.", "Decades of neglect by these fools.",
         "Great job everyone, truly flawless planning.", "The reporter could not even name the street right, lazy."),
        ("Pipes that old should have been replaced.", "Hope the shop owners get compensated."),
        ("My daughter just got into university!", "Hot deals on air fryers today only."),
    ),
    Article(
        "Premier defends carbon tax rebate cuts",
        "The premier said cutting the rebate was needed to balance the budget.",
        ("The premier is a lying coward.", "Balance the budget on our backs, you parasite.",
         "Every commenter who believes this is a sheep.", "What a clown show at the legislature."),
        ("The rebate helped lower income families.", "I would like to see the budget numbers."),
        ("Anyone know when the farmers market opens?", "Earn $500 daily, no experience needed."),
    ),
    Article(
        "University cancels controversial speaker",
        "The university withdrew an invitation to a speaker after student protests.",
        ("Cowardly administrators, as expected.", "Snowflakes win again, pathetic.",
         "The author is a biased hack.", "Students these days are spoiled brats."),
        ("Universities should allow debate.", "Students have a right to protest too."),
        ("Recommend a good laptop for gaming?", "Subscribe to my channel for prank videos."),
    ),
    Article(
        "Airport expansion approved despite noise complaints",
        "The airport authority approved a new runway despite complaints from nearby residents.",
        ("These officials are deaf to residents, idiots.", "Noise complaints from whiners, who cares.",
         "Shoddy one-sided article, as usual.", "Corrupt authority, corrupt decision."),
        ("Night flights should be banned.", "More flights mean more jobs."),
        ("Just had the best tacos of my life.", "Win a free cruise, click now."),
    ),
    Article(
        "Restaurant inspection finds rodents in kitchen",
        "Inspectors closed a popular restaurant after finding rodent droppings in the kitchen.",
        ("Disgusting owners, shut them down for good.", "Anyone who ate there is a fool.",
         "The inspectors are lazy, this took years.", "Yum, extra protein. Bon appetit."),
        ("I ate there last month, not again.", "Inspections should be more frequent."),
        ("Happy anniversary to my wonderful wife!", "Discount vitamins at my online shop."),
    ),
    Article(
        "Library e-book budget doubled",
        "The library board doubled its e-book budget after record digital borrowing.",
        ("Waste of money by clueless bureaucrats.", "The board members are out of touch snobs.",
         "Who paid for this fluff piece?", "Oh wonderful, more money for nobody."),
        ("E-books are great for people with disabilities.", "Print books still matter too."),
        ("Anyone up for chess in the park tomorrow?", "Make money online fast, see my bio."),
    ),
)  # fmt: skip


# One more of each per article, in article order: reactions to the story itself, and chatter.
MORE_INSULTS = (
    "Garbage article.", "Pathetic excuse for journalism.", "What a farce.", "Clowns, all of them.",
    "Disgraceful, and the writer knows it.", "Only morons would cheer this.", "Spare us, you hacks.",
    "Incompetence, start to finish.", "Liars and thieves, the lot.", "You couldn't make up this stupidity.",
    "Utter fools in charge.", "Shameful from top to bottom.", "Weak, biased drivel.", "Cowards hiding behind rules.",
    "Typical idiots.", "Nonsense written by a child.",
)  # fmt: skip
MORE_OFF_TOPIC = (
    "Is it going to snow this weekend?", "Follow my page for daily memes", "My dog ate my homework lol",
    "Selling a couch, barely used.", "Who won the game last night?", "Free followers, link in bio",
    "Good night all", "Looking for a roommate downtown", "New video up on my channel!!",
    "Anybody tried the new bakery on Main?", "Cheap flights to Cancun, message me", "I love pancakes",
    "Testing, testing", "Best deals on tyres this week", "Can someone recommend a plumber?", "Hello from Ohio!",
)  # fmt: skip
ARTICLES = tuple(
    Article(a.title, a.lead, (*a.insults, i), a.civil, (*a.off_topic, o))
    for a, i, o in zip(ARTICLES, MORE_INSULTS, MORE_OFF_TOPIC, strict=True)
)


def counts() -> dict[str, int]:
    return {
        "articles": len(ARTICLES),
        "insults": sum(len(a.insults) for a in ARTICLES),
        "civil": sum(len(a.civil) for a in ARTICLES),
        "off_topic": sum(len(a.off_topic) for a in ARTICLES),
    }


def unrelated_shares(predictor: Predictor) -> dict[str, float]:
    """Share of each kind of comment whose article stance is `unrelated`."""
    called: dict[str, list[bool]] = {"insults": [], "civil": [], "off_topic": []}
    for article in ARTICLES:
        state = predictor.encode_article(article.title, article.lead)
        for kind in called:
            texts = list(getattr(article, kind))
            for p in predictor.predict(texts, state):
                assert p.stance is not None
                called[kind].append(p.stance.label == "unrelated")
    return {kind: sum(v) / len(v) for kind, v in called.items()}
