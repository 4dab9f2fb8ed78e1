"""The plain reading of obfuscated text (service/model/obfuscation.py): what it rewrites, and what it must leave."""

from __future__ import annotations

import pytest

from service.model.obfuscation import as_displayed, lookalikes, plain_reading
from service.scoring.normalise import normalise


def _plain(text: str) -> str | None:
    return plain_reading(normalise(text).text)  # the model reads normalised text


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("You are an іdіоt.", "you are an idiot."),  # Cyrillic і and о
        ("You're a Ꭵdiot", "you're a idiot"),  # a Cherokee letter
        ("ρɪg", "pig"),  # Greek rho, small capital I
        ("Y0u ar3 a p1ec3 0f sh1t", "you ar3 a piece 0f shit"),
        ("Go k1ll yourself, a55hole.", "go kill yourself, asshole."),
        ("$hit, what a cr@p take", "shit, what a crap take"),
        ("You are a m-o-r-o-n", "you are a moron"),
        ("You're an i.d.i.o.t!", "you're an idiot!"),
        ("f*u*c*k you", "fuck you"),
        ("You are an i_d_i_o_t", "you are an idiot"),  # "_" is a word character, and a separator here
        ("Go k i l l yourself", "go kill yourself"),
        ("You are an i  d  i  o  t", "you are an idiot"),  # normalised: one space between letters
        ("(i d i o t)", "(idiot)"),
        ("You are a s t u p i d  m o r o n", "you are a stupid moron"),  # spelled words arrive as one run
        ("You are an i🤡d🤡i🤡o🤡t", "you are an idiot"),  # any one separator, the same throughout
        ("w-h-a-t a s-t-u-p-i-d thing", "what a stupid thing"),  # a lone "a" between spelled words stays apart
        ("Just KYS already.", "just kill yourself already."),
        ("k.y.s", "kill yourself"),
        ("You are an ɪᴅɪᴏᴛ", "you are an idiot"),  # small capitals
        ("ɢᴏ ᴋɪʟʟ ʏᴏᴜʀsᴇʟғ", "go kill yourself"),  # and the Cyrillic ғ fancy-text generators use for F
        ("You 🅸🅳🅸🅾🆃", "you idiot"),  # negative squared letters
        ("🅨🅞🅤 🅜🅞🅡🅞🅝", "you moron"),  # negative circled letters
        ("🇮\u200b🇩\u200b🇮\u200b🇴\u200b🇹", "idiot"),  # regional indicator letters kept apart by zero-width spaces
        ("You are an ⒤⒟⒤⒪⒯", "you are an idiot"),  # parenthesized letters: NFKC writes "(i)(d)(i)(o)(t)"
        ("you i\u200bd\u200bi\u200bo\u200bt", "you idiot"),  # zero-width spaces inside a word
        ("\u202euoy llik lliw I", "i will kill you"),  # stored backwards after a right-to-left override
        ("honestly \u202etoidi na\u202c, that is you", "honestly an idiot, that is you"),
        ("ɟlǝsɹnoʎ llᴉʞ oƃ", "go kill yourself"),  # upside down
        ("go &#107;&#105;&#108;&#108; yourself", "go kill yourself"),  # what a page showing HTML displays
        ("<b>You</b> are a <i>worth</i>less <span>id</span>iot", "you are a worthless idiot"),  # markup a page renders
        ("What an id<!-- nothing -->iot, see <a href='https://x.org'>this</a>", "what an idiot, see this"),
        ("Mo<br>ron", "mo ron"),  # a line break parts words, as a page shows it
        ("[b]You[/b] are a [i]worth[/i]less [color=red]id[/color]iot", "you are a worthless idiot"),  # BBCode
        ("You &#x6D;&#x6F;&#x72;&#x6F;&#x6E;", "you moron"),
        ("Go kiII yourself", "go kill yourself"),  # a capital I inside a word, drawn as an l
        ("You are a heIIish aIien", "you are a hellish alien"),
        ("You👏are👏an👏idiot", "you are an idiot"),  # words joined by a symbol: one unknown word to the tokenizer
        ("you👏🏽are👏🏽a×worthless█idiot", "you are a worthless idiot"),  # with a skin tone, or any symbols
        ("youツareツanツidiot", "you are an idiot"),  # a letter of another script that looks like no Latin one
        ("I love❤️it", "i love it"),
        ("You're a 🐷", "you're a pig face"),  # an emoji in the place of a noun, read by its name
        ("What a 🐀!", "what a rat!"),
        ("you 🤡🤡", "you clown face clown face"),
        ("You id-iot, what a st.upid mor*on", "you idiot, what a stupid moron"),  # one separator inside a word
        ("what a mo-ron, a lo-ser and a dumb-ass", "what a moron, a loser and a dumbass"),  # pieces that are words
        ("(((Soros))) controls the media", "jewish soros controls the media"),  # the antisemitic "echo"
        ("The ((( bankers ))) own it all", "the jewish bankers own it all"),
        ("🖕🏻🖕🏻 hogg", "fuck you fuck you hogg"),  # the middle finger, read as what it says
        ("hogg🖕off", "hogg fuck off"),
        ("ur such a retaaaaard", "ur such a retard"),  # a drawn-out letter, read once or twice: the commoner word
        ("you are an iiiidiooooot, suuure", "you are an idiot, sure"),
        ("Fck you, what a dck", "fuck you, what a dick"),  # the vowels dropped from a listed word
        ("go fck yourself you stpd mrn", "go fuck yourself you stupid moron"),
        ("Just unalive yourself, you fkn loser", "just kill yourself, you fucking loser"),  # a word's stand-in
        ("fvck you, biatch", "fuck you, bitch"),
        ("You Ioser, what a Iiar", "you loser, what a liar"),  # a capital I opening a word in mid-sentence
        ("уσυ αяє αи ι∂ισт", "you are an idiot"),  # "faux Cyrillic": Greek and Cyrillic together, a symbol
        ("you are an ιδιοτ", "you are an idiot"),  # Greek letters drawn for their shape in an English comment
        ("**Somebody** **should** **shoot** the _mayor_.", "somebody should shoot the mayor."),  # Markdown emphasis
        ("what a ***clown***, f**k ~~this~~ editor", "what a clown, f**k this editor"),  # "f**k" is no emphasis
        ("The /\\uth()r is a br/\\inless cl()wn", "the author is a brainless clown"),  # letters drawn in strokes
        ("you |\\/|oron, a \\/\\/hore", "you moron, a whore"),
        ("Theauthorisabrainlessclown.", "the author is a brainless clown."),  # words run together
        ("shutup,youignorantidiot", "shutup,you ignorant idiot"),
        ("you idoit, what a stpuid btich", "you idiot, what a stupid bitch"),  # a listed word, two letters swapped
        ("Everywordyouwriteprovesyou'reamoron.", "every word you write proves you're a moron."),  # apostrophes kept
        ("Watchyourback,I'mcomingforyouwithaknife", "watch your back,i'm coming for you with a knife"),
        ("Wh/\\t an abs()l|_|te f()()l, d|_||\\/|b", "what an absolute fool, dumb"),  # "()" beside another stroke
    ],
)
def test_obfuscated_words_are_written_plainly(text: str, plain: str) -> None:
    assert _plain(text) == plain


@pytest.mark.parametrize(
    "text",
    [
        "The 21st-century budget rose 3.5% in 2024, B2B sales too.",
        "The 1960s and the 70's, K-12 schools, the F-35 and a $5 ticket!",
        "I'm sure the U.S. and the E.U. agree, i.e. nobody asked.",
        "See https://example.org/a1b2c3 or write to @m4yor_office.",
        "Москва и Ελλάδα",  # words of other scripts stay theirs: language detection reads them
        "Wow!!! Great game.",
        "Plan B is fine, a b would not be.",  # two lone letters are not a spelled word
        "Go 🇺🇸🇨🇦, see (a)(b) above 🅿️",  # flags, a list's letters and the parking sign are not spelled words
        "שלום עולם and مرحبا",  # right-to-left scripts without an override stay in their own order
        "fəˈnɛtɪks ɹ",  # IPA with one turned letter is not upside-down text
        "AT&amp;T and Q&amp;A",  # named references spell punctuation
        "it&#39;s &#8220;fine&#8221; &#128514;",  # an HTML-escaped comment's quotes and emoji: not read twice
        "I think IKEA and iPhone owners agree, I do. III.",  # capitals that are not an l
        "lol 😂😂, great game 🏈🔥 and a ★ rating",  # emoji that are reactions, not in a noun's place
        "Wait…what? Naïve, café, Zoë — x² and Москва",  # punctuation between words, Latin accents, other scripts
        "so sad :((( and (((((LISTEN PLEASE))))) ((maybe))",  # frowns and shouting are not the echo
        "Right-wing, long-term and re-elect; see example.com, end.then",  # compounds of common words
        "A self-made, pro-life well-known x-ray of the long-term, ex-wife",  # words side by side, or prefixes
        "See www.example.com/aaa-bbb",  # a link's letters stay as written
        "The cnt column, idt so; a lsr scan and the twt thread",  # skeletons that are abbreviations of their own
        "Flights to Iran and Iowa, Indeed Ian said Its late",  # words opened by a capital I that are not an l
        "нет, это не так",  # Russian stays Russian: its letters are drawn for their shape only beside others
        "I really liked visiting Москва last year, 50¢ a cup",
        "5 * 3 * 2 = 30, my_user_name and snake_case_names, ** footnote, call print() or f(x)",  # no emphasis
        "Obamacare and the gunowners, see www.itsawonderfullife.com or #hangingoutwithfriends",  # run together: no
        "Internationalisation, notwithstanding, counterrevolutionaries",  # long words that are words
        "King Cnut and the tide; a carp in the pond",  # swaps that are words or names of their own
        "You shouldn't've, nor the gunowners' superrich friends",  # a contraction; two pieces are not a run
        "https://www.example.com/politicsandgovernment/itsawonderfullife, @itsawonderfullife",  # links, mentions
        "3 < 5 and 7 > 2, i <3 you, if a<b then b>a",  # angle brackets that are no markup
        "<Kneeling is highly offensive.> Offensive to whom? <sarc off>",  # brackets that quote, as comments do
        "He said [sic] they [1] were [citation needed] in [brackets]",  # square brackets that are no BBCode
    ],
)
def test_ordinary_text_is_left_as_it_is(text: str) -> None:
    assert _plain(text) is None


def test_the_lookalike_table_maps_letters_to_latin_letters_only() -> None:
    table = lookalikes()
    assert table["і"] == "i" and table["о"] == "o" and "в" not in table
    assert all(len(v) == 1 and v.isascii() and v.isalpha() and v.islower() for v in table.values())
    assert not any(k.isascii() for k in table)


def test_a_comment_also_read_plainly_costs_two_readings() -> None:
    """The batcher's fair shares and the per-request bound count the second reading (a long obfuscated comment is
    read twice over)."""
    from service.scoring.scorer import CommentJob, job_cost

    seen, hidden = (CommentJob(text * 100, None) for text in ("you are a moron. ", "you are a m0r0n. "))
    assert job_cost(hidden) == 2 * job_cost(seen)


def test_the_per_request_bound_counts_the_plain_reading_of_capitals() -> None:
    """``check_work`` reads the text as sent: "P1EC3" must cost its second reading as "p1ec3" does."""
    from types import SimpleNamespace

    from service.errors import TooLarge
    from service.scoring.scorer import Scorer

    settings = SimpleNamespace(max_windows_per_request=10, max_comment_chars=20_000)
    check = Scorer.check_work.__get__(SimpleNamespace(settings=settings))
    shouted = SimpleNamespace(text="YOU ARE A P1EC3 OF SH1T. " * 240)  # ~6.7 windows, read twice
    check([SimpleNamespace(text="you are a piece of shit. " * 240)])  # read once: within the bound
    with pytest.raises(TooLarge):
        check([shouted])


def test_a_request_over_the_bound_by_its_length_alone_is_refused_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plain reading is CPU work: a request whose text is over the bound without it is refused before any
    comment is read plainly."""
    from types import SimpleNamespace

    from service.errors import TooLarge
    from service.scoring import scorer

    def unread(text: str) -> None:
        raise AssertionError("read plainly")

    monkeypatch.setattr(scorer, "plain_reading", unread)
    settings = SimpleNamespace(max_windows_per_request=10, max_comment_chars=20_000)
    check = scorer.Scorer.check_work.__get__(SimpleNamespace(settings=settings))
    with pytest.raises(TooLarge, match="at least"):
        check([SimpleNamespace(text="y o u a r e a n i d i o t . " * 800)] * 2)


def test_one_comment_cuts_a_bounded_number_of_letters_into_words() -> None:
    """Cutting letters into words costs about 0.2 ms a letter: a 20,000-character comment of spaced-out letters
    took 2.3 s to read plainly. Its reading cuts the first SEGMENT_BUDGET letters and leaves the rest joined."""
    from service.model.obfuscation import SEGMENT_BUDGET

    spelled = "y o u a r e a n i d i o t . " * 1400
    plain = plain_reading(spelled)
    assert plain is not None and plain.startswith("you are an idiot . you are an idiot .")
    assert plain.endswith("youareanidiot . ")
    assert plain.count("you are an idiot .") == SEGMENT_BUDGET // len("youareanidiot")


def test_an_unnormalised_text_keeps_its_pronoun() -> None:
    """The training commands read texts as the data holds them: a capital I that is a word, or opens one, is not
    an l (only one after a lower-case letter is)."""
    assert plain_reading("I will find you. It is III.") is None
    assert plain_reading("go kiII yourself") == "go kill yourself"


def test_an_override_beside_a_lone_surrogate_is_left_to_the_validation_that_refuses_it() -> None:
    """The request bound reads every comment before each is validated: a lone surrogate (JSON's "\\ud800") must
    not make the bidi algorithm fail the whole request (the fuzz test found it)."""
    assert as_displayed("\ud800\u202eabc") == "\ud800\u202eabc"
