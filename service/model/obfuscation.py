"""Obfuscated abuse read plainly: letters of other scripts that look Latin, digits and symbols standing for letters,
words spelled out between separators, and abuse written as its initials.

Attackers write "іdіоt" (Cyrillic і and о), "Ꭵdiot" (a Cherokee letter), "Y0u ar3 a p1ec3 0f sh1t" or "m-o-r-o-n":
the tokenizer cuts these into rare pieces and the model reads them as harmless (moderato-v10: "Y0u ar3 a p1ec3 0f
sh1t." toxicity 0.18 and allowed; "You're a Ꭵdiot" 0.21; "You are an іdіоt." insult 0.23 against 0.89 spelled
plainly). ``plain_reading`` writes such a comment as a reader sees it. The predictor scores that as one more reading
of the comment, the worst reading winning as its windows and second look do, so the comment's own reading is never
lost, and a comment with nothing obfuscated costs one pass over its words and nothing more.

Word by word, only where a word shows the trick:
- a letter of another script is replaced by the Latin letter it looks like (Unicode's confusables, from the
  ``confusable_homoglyphs`` package) when every letter of its word is Latin or looks it: "Москва" keeps its "в" and
  stays Russian, which language detection then handles;
- digits and symbols that stand for letters ("0" o, "1" i, "3" e, "4" a, "5" s, "7" t, "@" a, "$" s, "!" i) are
  replaced in a word where one sits between letters ("p1ec3", "sh!t") or "$" opens a word of letters ("$hit"):
  "2024", "21st", "1960s", "k-12", prices, links and @mentions stay;
- three or more single letters joined by one separator ("i.d.i.o.t", "m-o-r-o-n", "i🤡d🤡i🤡o🤡t") or by
  spaces ("k i l l yourself") are joined; "u.s." and "i.e." stay. Words spelled out one after another arrive as one
  run, with a lone "a" or "i" before them ("you are a s t u p i d m o r o n"): a run of five letters or more is cut
  into its likeliest words ("a stupid moron", "a liar"; word counts of the ``wordsegment`` package);
- abuse written as its initials is spelled out ("kys" kill yourself, "stfu", "gtfo", "foad");
- "faux Cyrillic" ("уσυ αяє αи ι∂ισт": Greek and Cyrillic letters and symbols drawn for their shape) is read as the
  letters it draws, where no language writes so: a word mixing Greek and Cyrillic, or holding a symbol, or a
  comment that is mostly Latin words; Russian and Greek text stays as written;
- letters of "fancy text" that Unicode does not list as confusables are read as the letter they show: small capitals
  ("ɪᴅɪᴏᴛ"), negative circled and squared letters ("🅘🅓🅘🅞🅣", "🅸🅳🅸🅾🆃"), regional indicator letters ("🇮​🇩​🇮​🇴​🇹"), and
  parenthesized ones ("⒤⒟⒤⒪⒯", which NFKC makes "(i)(d)(i)(o)(t)"); invisible format characters inside such a word
  ("i\u200bd\u200bi\u200bo\u200bt") are dropped from it;
- the whole comment is read as it is displayed (``as_displayed``): numeric character references become the
  letters a page showing comments as HTML displays ("&#105;&#100;&#105;&#111;&#116;" is "idiot"), and markup the text
  that page shows ("<b>you</b> are a <i>worth</i>less id<!-- -->iot"; service/model/html_text.py); a bidi override
  (U+202E) makes a browser show "toidi" as "idiot", so text under an override is read in the order a reader sees it
  (the Unicode bidi algorithm, from the ``python-bidi`` package); upside-down text ("noʎ sǝʇɐɥ ǝuoʎɹǝʌǝ", letters
  turned over and written backwards) is turned upright when it uses two of the turned letters nothing else writes;
- a capital I inside a lower-case word, which most fonts draw as an l ("kiII yourself"), is read as an l (normalising
  keeps that capital alone: service/scoring/normalise.py); so is one opening a word in mid-sentence, where the l
  makes a word SKELETON_AT times as common ("you Ioser"; "Iran" stays).
- words joined by symbols instead of spaces ("you👏are👏an👏idiot", "you×idiot") or by a letter of another script that
  looks like no Latin one ("youツidiot") are read apart; an emoji in the place of a noun after "a", "you" or "your"
  ("you're a 🐷") is read by its name ("pig face").
- a word cut by one separator is joined where the join is a word and its pieces are not ("id-iot", "st.upid"), or
  where its pieces are words never written side by side ("mo-ron", "lo-ser");
- a name in triple parentheses, an antisemitic code ("(((soros)))"), is read as what it says ("jewish soros"); so is
  the middle finger ("🖕" fuck you);
- a drawn-out letter is read once or twice, whichever makes the commoner word ("retaaaaard": "retard");
- a listed profanity or insult with its vowels dropped ("fck", "dck", "stpd") or two inner letters swapped ("idoit",
  "btich") is read as the word, and a few words that stand in for others ("unalive" kill, "fkn") as the word they
  avoid;
- Markdown emphasis a page renders is read without its markers ("**shoot** the **mayor**"); letters drawn in ASCII
  strokes are read as the letter ("br/\\inless cl()wn", "|\\/|oron");
- words run together with no spaces are cut apart where they plainly make three common words or more
  ("youareanidiot");
- last, abuse borrowed from another language inside an English comment is read in English ("hijo de puta": son of a
  bitch; service/model/loanwords.py).

Also known misses (bench/RESULTS.md): a word cut into two words that are also written side by side ("dim-wit",
"use-less", "your-self"), a lone word of Greek or Cyrillic letters drawn for their shape in a comment that is
not mostly Latin words, words run together around a starred word ("youareash*tstain"), inner letters swapped in a
word the list does not hold ("barinless") and words written backwards.

On 8,787 real comments (UCC and ARC posts), 4.2 % are read a second time this way, some of them obfuscated for real
("a$$es", "cr@p", "sh!t", "s t u p i d", "c u n t", "stfu"), most hyphenated compounds joined into the same word
("on-line", "home-schooled") or misspellings cut into common words ("prost it ui on"); finding them costs about 0.3 ms
a comment here, and the model's time for those comments rose 1.05-1.09x in the latest runs, about the machine's noise
(bench/obfuscation.py, 2026-12-05).

Text arrives normalised (service/scoring/normalise.py: NFKC and case folding), so full-width, circled and
mathematical letters are already plain.
"""

from __future__ import annotations

import contextlib
import html
import itertools
import re
import threading
import unicodedata
from functools import cache, lru_cache
from typing import Any, cast

from service.model.html_text import html_to_text
from service.model.loanwords import glossed
from service.model.scrambled import SKELETON_AT, scrambled_spellings, skeleton, swaps, unscrambled
from service.model.word_counts import bigrams, run_segmenter, segmenter, unigrams

LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_LEET_TABLE = str.maketrans(LEET)
# Abuse written as its initials, read in full: the model scored "just kys already" 0.45 (allowed) and "gtfo" 0.18,
# against 0.95 and 0.96 spelled out. Only initials with no common innocent reading ("gfy" is also "good for you").
INITIALS = {"kys": "kill yourself", "stfu": "shut the fuck up", "gtfo": "get the fuck out", "foad": "fuck off and die"}
# A word: what lies between spaces, less the punctuation around it ("$" and "@" may open one: "$hit", "@name").
_WORD = re.compile(r"(?P<lead>[^\w\s$@]*)(?P<core>[^\s]*?)(?P<trail>[^\w\s]*)(?=\s|$)")
# Three letters or more, one separator between each, the same throughout (a dot, a dash, "_", an emoji...): "u.s." and
# "i.e." stay.
_SPELLED = re.compile(r"[a-z](?P<sep>[^\w\s]|_)(?:[a-z](?P=sep))+[a-z]")
# Where digits or symbols stand for letters: between letters ("sh1t", "a55hole"), or "$" opening a word of letters.
# Ordinals, decades and model numbers ("21st", "1960s", "f-35") have neither.
_LEET_WORD = re.compile(r"[a-z][013457!@$]+[a-z]|^\$[a-z]{2,}$")
# Fancy-text letters Unicode's confusables leave out, found by their names: small capitals (U+1D00 block, IPA's ɪ ʀ ʏ,
# Latin Extended-D's ꜰ ꜱ), negative circled and squared capitals, regional indicator letters.
_FANCY_NAME = re.compile(
    r"(?:LATIN LETTER SMALL CAPITAL|NEGATIVE (?:CIRCLED|SQUARED) LATIN CAPITAL LETTER|REGIONAL INDICATOR SYMBOL LETTER)"
    r" ([A-Z])"
)
_FANCY_BLOCKS = ((0x0250, 0x02B0), (0x1D00, 0x1D80), (0xA720, 0xA800), (0x1F130, 0x1F200))
# "⒤⒟⒤⒪⒯" after NFKC: three or more letters each in parentheses, nothing between them.
_PARENTHESIZED = re.compile(r"(?:\([a-z]\)){3,}")
# Upside-down text: each letter turned over (b and q, d and p, n and u trade places) and the text written backwards.
# Read upright only when two of the turned letters that no alphabet in use writes appear (IPA's ɐ ɹ ʌ are rare in
# comments, and the upright reading is one more reading beside the text's own, never instead of it).
# U+0307: NFKC writes "˙" as a space and a combining dot above.
_UPRIGHT = str.maketrans("ɐɔǝɟƃɥᴉıɾʞןɯɹʇʌʍʎqbpdnu˙\u0307¿¡',", "acefghiijklmrtvwybqdpun..?!,'")
_TURNED = frozenset("ɐǝɟƃɥᴉɯɹʇʍʎʞ")
# Letters drawn as symbols, which the word pass would take for punctuation: negative circled and squared capitals
# two or more together; regional indicator letters only spelled with invisible marks between them, since two side
# by side are a flag ("🇺🇸").
_BOXED = re.compile("[\U0001f150-\U0001f169\U0001f170-\U0001f189]{2,}")  # not a lone 🅿️ (parking) or 🅰️
_INVISIBLE = "[\u00ad\u200b-\u200d\u2060\ufeff]"  # soft hyphen, zero-width space and joiners, word joiner, BOM
_INDICATORS = re.compile(f"(?:[\U0001f1e6-\U0001f1ff]{_INVISIBLE}+){{2,}}[\U0001f1e6-\U0001f1ff]{_INVISIBLE}*")
# Fancy-text stand-ins with no name to find them by ("ʏᴏᴜʀsᴇʟғ": Cyrillic ғ for a small-capital F).
_FANCY_EXTRA = {"ғ": "f", "ǫ": "q"}
# "Faux Cyrillic" generators ("уσυ αяє αи ι∂ισт") also take Greek and Cyrillic letters, and symbols, for their shape
# alone, letters Unicode does not list as confusables ("you are an ιδιοτ" was allowed, toxicity 0.48). These are read
# as the letter they are drawn for only where no language writes them so: in a word that mixes Greek and Cyrillic
# letters or holds one of the symbols, or in a comment whose words are mostly Latin. "Москва и Ελλάδα" and "нет, это
# не так" stay as written (language detection holds them).
_FAUX = {
    "в": "b", "∂": "d", "δ": "d", "є": "e", "ƒ": "f", "¢": "c", "н": "h", "נ": "j", "к": "k", "κ": "k", "и": "n",
    "η": "n", "я": "r", "т": "t", "τ": "t", "ω": "w", "χ": "x", "м": "m",
}  # fmt: skip
_FAUX_TABLE = str.maketrans(_FAUX)
_FAUX_SYMBOLS = frozenset("∂ƒ¢נ")
# ∂ and ¢ against a letter ("stupi∂", "¢rap"): symbols, which the word pass would cut off as punctuation ("50¢" stays)
_FAUX_SYMBOL = re.compile(r"(?<=[^\W\d_])[∂¢]|[∂¢](?=[^\W\d_])")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
# Letters written as numeric character references ("&#107;&#105;&#108;&#108;"): a page that shows comments as HTML
# shows "kill". Only references to Latin letters are read (named ones such as "&amp;" spell punctuation).
_NUMERIC_REFERENCE = re.compile(r"&#(?:\d{1,7}|x[0-9a-f]{1,6});")
# Capital I's after a lower-case letter, which normalising keeps (service/scoring/normalise.py): drawn as an l. Not a
# pronoun or "III", so text read without normalising (the training commands' readouts) keeps its "I".
_CAPITAL_I = re.compile(r"(?<=[a-z])I+")
# A whole HTML tag of the elements comments carry, its attributes written name=value, or an HTML comment ("<b>",
# "</span>", "<a href=...>", "<!-- x -->"). Not "3 < 5", "<3", "a<b", nor angle brackets that quote a sentence ("<a
# man who tweets...>", "<sarc off>": 7 of 84,520 comments and posts in the shared sets, read as written).
_TAGS = (
    "a|abbr|b|big|blockquote|br|center|cite|code|del|div|em|font|h[1-6]|hr|i|img|ins|li|mark|ol|p|pre|q|s|small"
    "|span|strike|strong|sub|sup|tt|u|ul"
)
_MARKUP = re.compile(rf"<(?:/?(?:{_TAGS})(?:\s[^<>=]+=[^<>]*)?\s*/?|!--.*?--)>")
# The BBCode tags forums and comment plugins render the same way ("[b]id[/b]iot"), each with its value if any
# ("[color=red]"); "[sic]", "[1]", "[citation needed]" and "corporation[s]" (a quote's edit) are no tags.
_BBCODE = re.compile(r"\[/?(?:b|i|u|strike|sup|sub|color|size|font|url|spoiler|highlight)(?:=[^\[\]]{0,80})?\]")
_OVERRIDE = re.compile("[\u202d\u202e]")  # left-to-right and right-to-left override
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_LINK = re.compile(r"://|www\.|^@")  # links and @mentions are left as written
# Words joined by a symbol or a letter of another script ("you👏are👏an👏idiot", "youツidiot", "you×idiot"): the
# tokenizer splits only at spaces and punctuation, so the whole run became one unknown word (allowed at 0.07). A
# run of non-ASCII characters between two letters (or after a comma or a full stop), read as a space when it
# holds a symbol and no punctuation (the tokenizer already splits "yes…but"); a lone letter of another script
# between Latin letters that looks like none is read so too.
_JOIN_RUN = re.compile(r"(?<=[^\W\d_]|[.,;:!?])[^\w\s\x00-\x7f]+(?=[^\W\d_])|(?<=[a-z])[^\W\d_\x00-\x7f](?=[a-z])")
# Three or more single letters between spaces: a word spelled out ("k i l l yourself"). Normalised text has single
# spaces, so "s t u p i d  m o r o n" arrives as one run, which SEGMENT_FROM's rule cuts apart again.
_SPACED = re.compile(r"(?<!\w)(?<![a-z][^\w\s])(?:[a-z] ){2,}[a-z](?!\w|[^\w\s][a-z])")  # not in "w-i-t-h a k-n-i-f-e"
# A spelled-out run this long may be several words ("astupidmoron", "aliar"): it is cut into the likeliest ones.
# Shorter runs are one word ("kill", "c u n t"; "isis" would be cut "is is"), and the word counts (38 MB, read in
# 0.1-0.9 s here the first time a process needs them) stay unread.
SEGMENT_FROM = 5
# Cutting letters into words costs about 0.2 ms a letter (wordsegment, in Python): a 20,000-character comment of
# spaced-out letters took 2.3 s to read plainly, more than the model's reading of it, and any caller could send one.
# One comment's plain reading cuts at most this many letters (spelled out or run together: at most about 0.5 s);
# the rest stay as written, read by the model as they are.
SEGMENT_BUDGET = 2_000
_budget = threading.local()  # letters left to cut in the plain reading this thread is making
# An emoji in the place of a noun after "a", "an", "the", "you" or "your" ("you're a 🐷", "what a 🐀", "you 🤡")
# stands for the word: read by its CLDR name ("pig face", "rat", "clown face"; the ``emoji`` package). The
# model reads every emoji as an unknown token, so such an insult was allowed (toxicity 0.19-0.21). Only in
# that place: every emoji read by name lowered OLID's dev toxicity AUC by 0.003 and sent 4 more of its 1,343
# civil tweets to review ("lol 😂😂" reads "face with tears of joy"); in that place alone, AUC moved by 0.0001
# and no civil tweet crossed (bench/RESULTS.md).
_EMOJI_SLOT = re.compile(
    r"(?P<slot>(?<!\S)(?:an?|the|you|u|ur|your|ya|yo|you['’]re|youre)\s+)(?P<emoji>[^\w\s\x00-\x7f]+)(?P<trail>[.,!?]*)(?=\s|$)"
)
# One separator inside a word ("id-iot", "st.upid", "mor*on"): the tokenizer reads two harmless pieces ("you id-iot"
# was allowed at 0.30). The pieces are joined when the joined letters are a word at least JOIN_AT times as common as
# the rarer piece (``wordsegment``'s counts): "idiot" against "iot", "shit" against "sh"; not "right-wing" or
# "long-term", whose pieces are far more common words than their join. On 8,787 real comments this reads 47 (0.5 %)
# a second time ("on-line", "home-schoolers", "tax-payers": the same words); of 38 insults and threats cut by a
# hyphen it joins 30. Pieces that are common words themselves ("mo-ron", "lo-ser", "dumb-ass") are joined too when
# the two never stand side by side as words (no count among ``wordsegment``'s bigrams: "right wing" and "long term"
# have one) and the join is at least JOIN_UNSEEN_AT times as common as the rarer piece, which keeps prefixes on rarer
# words ("self-made", "pro-life") cut. That rule reads 91 more of the 8,787 a second time, all the same words
# ("home-schooled", "short-sighted", "non-sense"), and joins 92 of bench/obfuscation.py's 110 cut clear cases fully
# (63 before).
_CUT_WORD = re.compile(r"(?P<head>[a-z]{2,})[-.*_](?P<tail>[a-z]{2,})")
JOIN_AT = 0.5
JOIN_UNSEEN_AT = 0.05
# Abuse with its vowels dropped ("fck you", "what a dck", "stpd mrn"): the model read "fck you" at toxicity 0.61 and
# "what a dck" at 0.29 (both allowed) against 0.98 and 0.94 spelled out. A word of this list written as its skeleton
# (its first letter and the consonants after it) is read as the word, unless the skeleton is a word or an
# abbreviation of its own: the word must be at least SKELETON_AT times as common as the skeleton (``wordsegment``'s
# counts), which reads "fck" (540 times rarer than "fuck"), "sht", "dck", "btch", "stpd", and leaves "cnt" (count),
# "lsr" (laser), "scm", "twt" and "idt" ("I don't think") as written.
VOWELLESS_OF = (
    "fuck", "fucking", "fucker", "motherfucker", "shit", "bitch", "dick", "dickhead", "cunt", "asshole", "bastard",
    "idiot", "stupid", "moron", "loser", "retard", "faggot", "nigger", "whore", "slut", "dumb", "dumbass", "kill",
    "pathetic", "worthless", "scum", "trash", "prick", "twat", "wanker", "jerk", "piss", "crap",
)  # fmt: skip
# Words that stand for another in evasive writing, read as the word they avoid: "unalive yourself" (toxicity 0.36,
# allowed; "kill yourself" is rejected), the shorthand spellings of "fucking" that keep a vowel, and spellings the
# model read as milder than the word ("fvck you" 0.53, "what a biatch" 0.44, "you azzhole" 0.60: allowed).
SHORTHAND = {
    "unalive": "kill", "unalived": "killed", "unaliving": "killing", "fkn": "fucking", "fking": "fucking",
    "fkin": "fucking", "fcking": "fucking", "fuk": "fuck", "fukin": "fucking", "fuking": "fucking", "fvck": "fuck",
    "fvcking": "fucking", "biatch": "bitch", "azzhole": "asshole",
}  # fmt: skip


_SKELETONS = {skeleton(word): word for word in VOWELLESS_OF if skeleton(word) != word}


# A listed word with two neighbouring inner letters swapped ("idoit", "stpuid", "btich"): readers read it at a glance,
# the tokenizer cuts it into pieces. Read as the word where the swap is no word of its own at least SKELETON_AT times
# rarer than it (checked when first met: ``_listed``), and but for "cnut": King Cnut and the tide is a figure news
# comments use.
_SWAPPED = {swapped: word for word in VOWELLESS_OF for swapped in swaps(word) if swapped != "cnut"}
# The "echo": a name in triple parentheses ("(((soros)))") marks its bearer as Jewish, an antisemitic code (ADL's
# hate symbol database). A reader who knows it reads "jewish soros"; the model never learned it, and read
# "(((conservatives))) are enemies of whites!" at identity attack 0.50 (allowed), "jewish conservatives..." at 0.98.
# The plain words change nothing in a harmless sentence ("(((bernie))) wins the primary": 0.08 either way). Exactly
# three on each side: ":(((" and "(((((listen please)))))" are not it.
_ECHO = re.compile(r"(?<!\()\({3}(?!\()\s*(?P<name>[^()]{1,60}?)\s*(?<!\))\){3}(?!\))")
# The middle finger is an obscenity drawn, not a noun: read as what it says ("🖕" fuck you, "🖕 off" fuck off). The
# model read every emoji as a symbol it never learned: "🖕 you" toxicity 0.21 and "🖕🖕🖕" 0.05, both allowed.
_MIDDLE_FINGER = re.compile(r"\U0001f595[\U0001f3fb-\U0001f3ff]?(?:\s*(?P<object>you|u|ya|yourself|off)\b)?")
# A letter drawn out ("retaaaaard", "iiiidiooooot"): the tokenizer reads most such words, but not all ("ur such a
# retaaaaard" was allowed at 0.47). Each run of three or more is read as one letter or two, whichever spelling is the
# commonest word (``wordsegment``'s counts); a word no spelling makes is left as written, and so is one letter alone
# ("iii", a numeral). It reads 34 more of bench/obfuscation.py's 8,787 real comments a second time ("hmmm", "soooo",
# "suuure"); clear cases with a vowel drawn out, held 91.8 % -> 100 %.
_DRAWN_OUT = re.compile(r"([a-z])\1{2,}")
# Markdown emphasis a comment page renders ("**idiot**", "_moron_", "~~clown~~"): the page shows the word, the
# tokenizer read the markers, and "**Somebody** **should** **shoot** the **mayor**." was allowed (threat 0.15 against
# 0.6 as written). Markers count only where they open and close a run of text, flanked as CommonMark flanks them
# (not inside a word, not followed or preceded by a space), so a word censored with asterisks ("f**k") stays, and
# never beside a "|" (the "|_|" of a letter drawn in strokes).
_EMPHASIS = re.compile(
    r"(?<![\w*~|])(?P<mark>\*{1,3}|_{1,3}|~~)(?=[^\s*_~|])(?P<body>.{1,300}?)(?<=[^\s*_~|])(?P=mark)(?![\w*~|])"
)
# Letters drawn with ASCII strokes ("br/\\inless", "cl()wn", "|\\/|oron"): the word pass would read the strokes as
# punctuation and cut the word apart. Read as the letter where a letter stands beside them, longest first; "()" only
# between a letter and a letter or another stroke ("f()()l"), since a function call ("print()") ends a word with it.
_STROKES = {"|\\/|": "m", "\\/\\/": "w", "|_|": "u", "/\\": "a", "\\/": "v", "()": "o"}
_STROKE = r"(?:\|\\/\||\\/\\/|\|_\||/\\|\\/)"  # any of them but "()"
_STROKE_LETTER = re.compile(
    rf"(?<=[a-z]){_STROKE}|{_STROKE}(?=[a-z])|(?<=[a-z])\(\)(?=[a-z(|\\/])|(?<=[a-z)|\\/])\(\)(?=[a-z])"
)
# Words run together with no spaces ("youareanidiot", "thejudgeshouldbehanged"): one word the tokenizer cuts into
# meaningless pieces ("Theauthorisabrainlessclown." was allowed). A run of RUN_TOGETHER_FROM letters or more that is
# no word itself is cut into its likeliest words (``wordsegment``, with its bigrams: "are a burden", not "area
# burden") where that makes RUN_TOGETHER_PIECES words or more, each a common one: a word of three letters or fewer
# at least SHORT_PIECE_COUNT times in its counts, a longer one LONG_PIECE_COUNT ("a" and "i" the only single
# letters). A misspelt word cut so makes rare short pieces ("prostituion": "prost it ui on") and stays as written;
# two pieces are not enough, or names and coinages ("obamacare", "gunowners") would be read twice for nothing. Links,
# domains, @mentions and #hashtags stay.
RUN_TOGETHER_FROM = 10
_RUN_TOGETHER = re.compile(rf"(?<![\w@#/'])[a-zI][a-zI']{{{RUN_TOGETHER_FROM - 1},}}(?![\w/']|\.[a-z])")
RUN_TOGETHER_PIECES = 3
_CONTRACTED = frozenset(("m", "s", "t", "d", "ll", "re", "ve"))  # what follows an apostrophe ("i'm", "we'll")
SHORT_PIECE_COUNT = 1e6
LONG_PIECE_COUNT = 1e4
# Anything any rule could rewrite: most comments have none, and are passed over in one search.
_SUSPECT = re.compile(
    r"[^\x00-\x7f]|[a-z][013457!@$]+[a-z]|\$[a-z]|[a-z](?P<sep>[^\w\s]|_)[a-z](?P=sep)[a-z]|\b(?:[a-z] ){2,}[a-z]\b"
    r"|\b(?:"
    + "|".join([*INITIALS, *SHORTHAND, *_SKELETONS, *_SWAPPED])
    + r")\b|\([a-z]\)\([a-z]\)|&#|<[a-z/!]|\[/?[a-z]+[=\]]|[a-z]I|\(\(\(|[a-z]{2}[-.*_][a-z]{2}"
    r"|(?P<run>[a-z])(?P=run){2}|\bI[a-z]{2}|(?<![\w*~])(?:\*{1,3}|_{1,3}|~~)[^\s*_~]"
    rf"|[a-z]{_STROKE}|{_STROKE}[a-z]|[a-z]\(\)[a-z]"
)


@cache
def lookalikes() -> dict[str, str]:
    """Each non-ASCII letter that Unicode lists as confusable with a Latin letter, and each fancy-text letter, with
    the Latin letter it shows (lower case)."""
    from confusable_homoglyphs.confusables import confusables_data

    out = {}
    for char, entries in confusables_data.items():
        if len(char) != 1 or char.isascii() or not char.isalpha():
            continue
        latin = [e["c"] for e in entries if len(e["c"]) == 1 and e["c"].isascii() and e["c"].isalpha()]
        if latin:
            out[char] = latin[0].lower()
    return out | _fancy_letters() | _FANCY_EXTRA


def _fancy_letters() -> dict[str, str]:
    out = {}
    for start, end in _FANCY_BLOCKS:
        for point in range(start, end):
            if match := _FANCY_NAME.fullmatch(unicodedata.name(chr(point), "")):
                out[chr(point)] = match[1].lower()
    return out


@cache
def lookalike_table() -> dict[int, str]:
    """``lookalikes`` as a ``str.translate`` table: every look-alike letter of a text replaced in one pass."""
    return str.maketrans(lookalikes())


def _plain_core(core: str, faux_level: int = 0) -> str:
    if _LINK.search(core):
        return core
    similar = lookalikes()
    if any(c in _FAUX for c in core) and _drawn_for_shape(core, faux_level):
        faux = core.translate(_FAUX_TABLE)  # kept only where every letter then is Latin or looks it ("москва" stays)
        core = faux if all(c.isascii() or c in similar for c in faux) else core
    if core[:1] == "I" and core[1:].isalpha() and core[1:].islower():  # kept by normalising: "you Ioser"
        core = _first_l(core)
    letters = [c for c in core if c.isalpha() or c in similar]  # 🅐 and 🇦 are symbols that show a letter
    latin = core.translate(lookalike_table())
    if any(c in similar for c in letters) and all(c.isascii() or c in similar for c in letters):
        core = latin
    if letters and all(c.isascii() for c in latin if c.isalpha()):
        core = "".join(c for c in core if unicodedata.category(c) != "Cf")  # zero-width marks inside a Latin word
    if _LEET_WORD.search(core):
        core = core.translate(_LEET_TABLE)
    if _DRAWN_OUT.search(core) and len({c for c in core if c.isalpha()}) > 1:  # not "iii" (a numeral) or "zzz"
        core = _drawn_in(core)
    if _SPELLED.fullmatch(core):
        core = "".join(c for c in core if c.isalpha())
    elif cut := _CUT_WORD.fullmatch(core):
        core = _joined(cut["head"], cut["tail"]) or core
    return INITIALS.get(core) or SHORTHAND.get(core) or _listed(core, _SKELETONS) or _listed(core, _SWAPPED) or core


def _listed(core: str, spellings: dict[str, str]) -> str | None:
    """The listed word ``core`` is a spelling of (``_SKELETONS``: its vowels dropped; ``_SWAPPED``: two inner letters
    swapped), unless that spelling is a word of its own at least a SKELETON_AT-th as common; else None."""
    word = spellings.get(core)
    if word is None:
        return None
    counts = unigrams()
    return word if counts.get(word, 0) >= SKELETON_AT * counts.get(core, 0) else None


def _first_l(core: str) -> str:
    """A word opened by a capital I, as "l..." where that is a word at least SKELETON_AT times as common as "i..."
    ("Ioser": loser); otherwise as written ("Iran", "Indeed")."""
    counts = unigrams()
    as_l, as_i = "l" + core[1:], "i" + core[1:]
    return as_l if counts.get(as_l, 0) >= SKELETON_AT * max(counts.get(as_i, 0), 1) else core


def _drawn_for_shape(core: str, faux_level: int) -> bool:
    """Whether a word's Greek and Cyrillic letters are drawn for their shape: always where it mixes the two scripts
    or holds a symbol; Greek alone in a comment of mostly Latin words (``faux_level`` 1); Greek or Cyrillic alone in
    a comment that holds words of the first kind (2). "I liked visiting Москва" stays Russian."""
    greek = any("\u0370" <= c <= "\u03ff" for c in core)
    cyrillic = any("\u0400" <= c <= "\u04ff" for c in core)
    if (greek and cyrillic) or any(c in _FAUX_SYMBOLS for c in core):
        return True
    return (greek and faux_level >= 1) or (cyrillic and faux_level >= 2)


def _mostly_latin(text: str) -> bool:
    words = [w for w in text.split() if any(c.isalpha() for c in w)]
    return 2 * sum(bool(_LATIN_WORD.fullmatch(w.strip(".,;:!?\"'()"))) for w in words) > len(words)


def _drawn_in(core: str) -> str:
    """``core`` with each drawn-out letter written once or twice, as the commonest word; ``core`` if none is a word."""
    runs = list(_DRAWN_OUT.finditer(core))
    if len(runs) > 4:  # 2 ** runs spellings: past a few, it is not a word
        return core
    counts = unigrams()
    best, best_count = core, 0.0
    for lengths in itertools.product((1, 2), repeat=len(runs)):
        spelling, at = [], 0
        for run, length in zip(runs, lengths, strict=True):
            spelling += [core[at : run.start()], run[1] * length]
            at = run.end()
        candidate = "".join(spelling) + core[at:]  # a word's core: its punctuation is already cut off (_WORD)
        if counts.get(candidate, 0) > best_count:
            best, best_count = candidate, counts[candidate]
    return best


def _joined(head: str, tail: str) -> str | None:
    """``head + tail`` when that reads as one word rather than two (``_CUT_WORD``)."""
    counts = unigrams()
    joined = counts.get(head + tail, 0)
    rarer = min(counts.get(head, 0), counts.get(tail, 0))
    if joined and joined >= JOIN_AT * rarer:
        return head + tail
    if joined and joined >= JOIN_UNSEEN_AT * rarer and f"{head} {tail}" not in bigrams():
        return head + tail
    return None


def _joiner(match: re.Match[str]) -> str:
    run = match[0]
    if all(c in _FAUX for c in run):  # a symbol drawn for a letter ("ι∂ισт"): the word pass reads it
        return run
    if run.isalpha():  # one letter: a joiner only if it is of another script and looks like no Latin letter
        return run if run in lookalikes() or unicodedata.name(run, "LATIN").startswith("LATIN") else " "
    categories = [unicodedata.category(c) for c in run]
    joins = any(c[0] == "S" for c in categories) and not any(c[0] == "P" for c in categories)
    return " " if joins else run


def _spelled_out(match: re.Match[str]) -> str:
    """Letters spelled out between spaces, joined; a long run cut into the words it spells."""
    letters = match[0].replace(" ", "")
    return " ".join(segmenter().segment(letters)) if len(letters) >= SEGMENT_FROM and _take(letters) else letters


def _take(letters: str) -> bool:
    """Whether this comment's reading may still cut ``letters`` into words (SEGMENT_BUDGET), counting them if so."""
    left = getattr(_budget, "left", SEGMENT_BUDGET)
    if len(letters) > left:
        return False
    _budget.left = left - len(letters)
    return True


def _emoji_word(match: re.Match[str]) -> str:
    import emoji  # only for the rare text with an emoji after "a" or "you"

    if not emoji.purely_emoji(match["emoji"]):
        return match[0]
    tokens = emoji.analyze(match["emoji"], join_emoji=True)
    names = (cast(Any, token.value).data["en"] for token in tokens)
    return match["slot"] + " ".join(name.strip(":").replace("_", " ") for name in names) + match["trail"]


def _symbol_letters(match: re.Match[str]) -> str:
    return "".join(c for c in match[0].translate(lookalike_table()) if unicodedata.category(c) != "Cf")


def load_word_lists() -> None:
    """Read the word counts and spellings the plain reading weighs (0.3 s, 64 MB here) now, at load, rather than in
    the first request whose comment holds a word without a vowel ("why")."""
    unigrams()
    scrambled_spellings()


@lru_cache(maxsize=1024)  # one comment is read here up to three times: its cost, its batch, its answer's read_as
def plain_reading(text: str) -> str | None:
    """``text`` as a reader sees through its obfuscation, with abuse borrowed from another language read in English
    (service/model/loanwords.py); None when there is nothing of either."""
    _budget.left = SEGMENT_BUDGET
    plain = _RUN_TOGETHER.sub(_run_apart, text)  # first, while a capital I in a run is still the pronoun
    if _SUSPECT.search(plain):
        plain = _RUN_TOGETHER.sub(_run_apart, _undisguised(plain))
    plain = unscrambled(plain) or plain
    plain = glossed(plain)
    return None if plain == text else plain


def _run_apart(match: re.Match[str]) -> str:
    run = match[0]
    if unigrams().get(run.lower().replace("'", ""), 0):  # a word, as most long runs are: nothing to cut
        return run
    return _apart(run) if _take(run) else run


@lru_cache(maxsize=4096)
def _apart(run: str) -> str:
    """Words run together, cut apart (``_RUN_TOGETHER``), each apostrophe kept where it was ("you'reamoron": "you're
    a moron"); a word, a contraction, a drawn-out word (``_DRAWN_OUT`` reads those) or a run that is not plainly
    words, as written."""
    low = run.lower()
    parts = low.split("'")
    if all(len(p) < RUN_TOGETHER_FROM for p in parts):  # (a run that is a word never gets here: ``_run_apart``)
        return run
    if _DRAWN_OUT.search(low):
        return run
    cut = [run_segmenter().segment(part) if part else [] for part in parts]
    words = [w for part in cut for w in part]
    endings = [part[0] for part in cut[1:] if part and part[0] in _CONTRACTED]  # "i'm", "you're"
    if len(words) < RUN_TOGETHER_PIECES or not all(_common_piece(w) for w in words if w not in endings):
        return run
    return "'".join(" ".join(part) for part in cut)


def _common_piece(word: str) -> bool:
    count = unigrams().get(word, 0)
    return count >= (SHORT_PIECE_COUNT if len(word) <= 3 else LONG_PIECE_COUNT) and (len(word) > 1 or word in "ai")


def _undisguised(text: str) -> str:
    plain = _ECHO.sub(lambda m: "jewish " + m["name"], as_displayed(text))
    for _ in range(2):  # twice: a stroke with only strokes beside it ("c()\\/\\//\\rd", "|\\/|/\\n") has a letter
        # beside it only once its neighbours are read
        plain = _STROKE_LETTER.sub(lambda m: _STROKES[m[0]], plain)
    if "\U0001f595" in plain:
        plain = " ".join(_MIDDLE_FINGER.sub(lambda m: f" fuck {m['object'] or 'you'} ", plain).split())
    plain = _BOXED.sub(_symbol_letters, plain)
    plain = _INDICATORS.sub(_symbol_letters, plain)
    plain = _PARENTHESIZED.sub(lambda m: m[0][1::3], plain)
    plain = _EMOJI_SLOT.sub(_emoji_word, plain)
    plain = _JOIN_RUN.sub(_joiner, plain)
    plain = _SPACED.sub(_spelled_out, plain)
    plain = _FAUX_SYMBOL.sub(lambda m: _FAUX[m[0]], plain)
    # a word no language writes ("уσυ", "ι∂ισт") shows the whole comment is drawn so: its other words are read too
    faux = any(
        _drawn_for_shape(word, 0) for word in plain.split() if any(c in _FAUX for c in word) and _has_letters(word)
    )
    level = 2 if faux else int(_mostly_latin(plain))
    return _WORD.sub(lambda m: m["lead"] + _plain_core(m["core"], level) + m["trail"], plain)


def _has_letters(word: str) -> bool:
    return any(c.isalpha() for c in word)


def _reference_letter(match: re.Match[str]) -> str:
    """A reference that spells a Latin letter, as the letter; others ("&#39;", "&#233;", "&#8220;", emoji) stay as
    written, so a site that sends its comments HTML-escaped is not read twice for its quotes, accents and emoji."""
    char = html.unescape(match[0])
    return char.casefold() if char.isascii() and char.isalpha() else match[0]


def as_displayed(text: str) -> str:
    """Normalised ``text`` as a reader sees it: numeric character references as their characters, HTML markup and
    BBCode as the text a page rendering them shows (many comment systems let readers write <b>, <i>, [b] and links),
    a capital I inside a word as the l it shows, runs under a bidi override reordered as a browser shows them,
    upside-down text turned upright; otherwise ``text`` itself."""
    if "&#" in text:
        text = _NUMERIC_REFERENCE.sub(_reference_letter, text)
    if _MARKUP.search(text):
        text = " ".join(html_to_text(text).split())
    text = _BBCODE.sub("", text)
    text = _CAPITAL_I.sub(lambda m: "l" * len(m[0]), text)  # "kiII" is "kill"
    text = _EMPHASIS.sub(lambda m: m["body"], text)
    if _OVERRIDE.search(text):
        from bidi import get_display  # only for the rare text that carries an override

        # a lone surrogate is not text at all (refused as invalid_text before anything reads it): left as it is
        with contextlib.suppress(UnicodeEncodeError):
            text = _BIDI_CONTROLS.sub("", get_display(text))
    if len(_TURNED.intersection(text)) >= 2:
        text = text[::-1].translate(_UPRIGHT)
    return text
