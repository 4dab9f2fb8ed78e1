"""A dev behaviour set for article stance's on-topic call: what the service's article prior is chosen on.

Twelve invented stories, each with short reactions a comment section gets: abuse, mockery and sarcasm aimed at the
story, its people, its author or the other readers, and civil remarks (all on-topic), and chatter and spam that would
read the same under any story (off-topic). Written apart from the training phrases (service/training/topicality.py)
and from the held-out behaviour set that judges the result (tests/model/topicality_set.py), with their own stories:
choosing one number on this set and reporting it on that one keeps the judge unseen.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DevStory:
    title: str
    lead: str
    on_topic: tuple[str, ...]  # abuse, mockery, sarcasm and civil remarks about the story
    off_topic: tuple[str, ...]  # chatter and spam


DEV_STORIES: tuple[DevStory, ...] = (
    DevStory(
        "Ferry service cut to two sailings a day",
        "The ferry operator will run two crossings a day instead of six from March, blaming a crew shortage.",
        ("Whoever runs this ferry outfit should be fired yesterday.", "Crew shortage my foot, they're just greedy.",
         "Islanders get screwed again, what a shock.", "Two sailings will not get anyone to work on time."),
        ("Anyone selling a snowblower?", "Subscribe for daily crypto signals!", "Happy Friday folks",
         "lmao my phone died"),
    ),
    DevStory(
        "Senator used campaign funds for family vacation",
        "Records show the senator billed $18,000 in resort stays to her campaign account.",
        ("Crook. Lock her up.", "And people keep voting for this grifter.",
         "Shocking, a politician with sticky fingers.", "She should repay every cent before the next election."),
        ("Does anyone know a good dentist?", "Win a free iPhone, click my profile", "Raptors tonight, who is watching?",
         "Bored at work again"),
    ),
    DevStory(
        "Zoo's panda exhibit opens to three-hour lines",
        "Thousands queued on Sunday to see the two giant pandas on loan for five years.",
        ("Only sheep would wait three hours for a bear.", "The zoo management are clueless about crowds.",
         "Wonderful, more taxpayer money for fluffy PR.", "I'll wait until the lines calm down, looks lovely though."),
        ("Who's watching the finale tonight?", "Earn $500 a day from your couch, DM me",
         "My grandma makes the best pierogi", "Can anyone fix a leaky faucet cheap?"),
    ),
    DevStory(
        "Gas prices jump 20 cents overnight",
        "Pump prices rose to $1.89 a litre after a refinery outage, analysts said.",
        ("Price gouging thieves, every one of them.", "Refinery outage, sure, tell us another fairy tale.",
         "The reporter swallowed the oil companies' line whole.", "Time to take the bus more, I guess."),
        ("Anybody going to the craft fair?", "Best prices on used tyres, call now", "Good morning from Halifax!",
         "I need a new show to binge, suggestions?"),
    ),
    DevStory(
        "Court strikes down ban on short-term rentals",
        "A judge ruled the city's ban on short-term rentals exceeded its powers.",
        ("The judge is a landlord stooge.", "City lawyers are useless, they lose every time.",
         "Great, more party houses on my street. Thanks, genius.", "The ruling seems fair if the bylaw overreached."),
        ("Lost cat, orange tabby, Maple Ave", "Follow me for fitness tips", "Who else can't sleep?",
         "Selling concert tickets, two for Saturday"),
    ),
    DevStory(
        "Arena deal leaves taxpayers paying $300 million",
        "Council signed a deal under which the city pays most of the new hockey arena's cost.",
        ("Spineless councillors bent over for the billionaire owner.", "What a scam, we pay and they profit.",
         "Anyone who voted for this should be ashamed.", "I'd like to see the full contract published."),
        ("Happy anniversary to my wife!", "Free gift cards, link in bio", "What's everyone having for dinner?",
         "My car won't start in this cold"),
    ),
    DevStory(
        "Snow removal budget runs out in February",
        "The city has spent its entire snow clearing budget with six weeks of winter left.",
        ("Incompetent planners, it snows every year, morons.",
         "Who could have predicted snow in Canada? Not these fools.",
         "Pathetic. Side streets haven't been plowed in days.", "They should set the budget on a ten-year average."),
        ("Check out my new podcast episode!", "Anyone want a free couch? Must pick up",
         "Cheap car insurance quotes here", "Ugh Mondays"),
    ),
    DevStory(
        "Teachers' union calls strike vote",
        "Teachers will vote next week on a strike after talks with the province broke down.",
        ("Greedy teachers holding kids hostage again.", "The minister is a smug liar and everybody knows it.",
         "Another biased puff piece for the union.", "I hope both sides get back to the table quickly."),
        ("Is the mall open on the holiday?", "Weight loss secret doctors hate, click here",
         "Just adopted a puppy!!", "Looking for a babysitter near Westdale"),
    ),
    DevStory(
        "Health minister announces rural clinic closures",
        "Four rural clinics will close by summer, the health minister said, citing a lack of doctors.",
        ("This minister is a heartless idiot.", "Rural people are an afterthought to these clowns.",
         "Nice job, now we drive two hours for stitches.", "Could they not recruit doctors with incentives instead?"),
        ("Is the hardware store on 5th open late?", "Make money fast with this one trick",
         "Love this sunny weather", "Trade you my old guitar for a bike"),
    ),
    DevStory(
        "Film festival pulls documentary after threats",
        "Organisers cancelled two screenings of a documentary after staff received threats.",
        ("Cowards, caving to a handful of bullies.", "The organisers have no backbone at all.",
         "Ah yes, free speech, as long as nobody complains.", "Threatening staff is never acceptable."),
        ("Who has a spare charger at the office?", "Visit my shop for handmade candles",
         "So hungry right now", "Best pizza in town? Go"),
    ),
    DevStory(
        "Pipeline leak spills oil into river",
        "About 2,000 barrels leaked into the river before the line was shut off, the company said.",
        ("The company executives are criminals.", "Of course the regulator slept through it, useless as ever.",
         "Oh good, we're poisoning the river again.", "I hope the cleanup crews get there quickly."),
        ("Anyone else see the northern lights?", "Cheap flights to Vegas, message me",
         "Finally finished my puzzle", "Need a ride to the airport Thursday"),
    ),
    DevStory(
        "Speed cameras issue 30,000 tickets in first month",
        "The city's new speed cameras caught 30,000 drivers in their first month of operation.",
        ("A cash grab run by crooks at city hall.", "You whiners should just stop speeding, idiots.",
         "Wow, what a revelation: people speed. Thanks, journalism.", "The cameras near schools make sense to me."),
        ("Happy birthday Mom!", "Buy followers cheap, DM now", "Anyone watching the game?", "New recipe on my blog!"),
    ),
)  # fmt: skip


def dev_counts() -> dict[str, int]:
    return {
        "stories": len(DEV_STORIES),
        "on_topic": sum(len(s.on_topic) for s in DEV_STORIES),
        "off_topic": sum(len(s.off_topic) for s in DEV_STORIES),
    }
