"""A tiny data folder in the shared data format, so training and evaluation code runs without the real sets."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


INSULTS = ["You are a stupid idiot.", "What a moron you are.", "Shut up, loser.", "You pathetic clown."]
CIVIL = [
    "I think the council made a fair decision.",
    "Thanks for the thoughtful article.",
    "The budget numbers look right to me.",
    "I respectfully disagree with the author.",
]


def make_tiny_data(root: Path, copies: int = 6) -> Path:
    """Write every file the loaders read, with a few rows each (repeated ``copies`` times under new ids)."""
    tox, st = root / "toxicity", root / "stance"
    civil_rows, tsd_rows, olid_rows, dav_rows, ucc_rows, wiki_rows, tg_rows = [], [], [], [], [], [], []
    for c in range(copies):
        for i, text in enumerate(INSULTS):
            word_end = text.index(" ")
            spans = [["a1", "insult", 0, word_end], ["a2", "insult", 0, word_end]]
            civil_rows.append([f"{c}{i}", f"{text} #{c}", 3, 0.0, 0.3, 1.0, 0.0, 0.0, 0.0, 0.0, json.dumps(spans)])
            tsd_rows.append([f"{text} ({c})", json.dumps(list(range(word_end)))])
            olid_rows.append([f"o{c}{i}", f"@USER {text} {c}", 1, 1, "IND"])
            dav_rows.append([f"d{c}{i}", f"{text} lol {c}", 3, 0, 3, 0, "offensive"])
            tg_rows.append([f"all of them are idiots {c}{i}", "women", "hate"])
        for i, text in enumerate(CIVIL):
            olid_rows.append([f"n{c}{i}", f"@USER {text} {c}", 0, "", ""])
            dav_rows.append([f"e{c}{i}", f"{text} ok {c}", 3, 0, 0, 3, "neither"])
            ucc_rows.append([f"u{c}{i}", f"{text} ({c})", 3] + [0, 1.0] * 5 + [1, 1.0] + [0, 1.0] * 2)
            wiki_rows.append([f"w{c}{i}", f"As a gay man: {text} {c}", 0])
            tg_rows.append([f"women work hard {c}{i}", "women", "neutral"])
    _write(
        tox / "civil_toxic_spans.csv.gz",
        [
            "comment_id",
            "text",
            "annotators",
            "not_toxic_frac",
            "all_toxic_frac",
            "insult_frac",
            "threat_frac",
            "identity_attack_frac",
            "obscene_frac",
            "other_frac",
            "spans",
        ],
        civil_rows,
    )
    _write(tox / "tsd_train.csv.gz", ["text", "spans"], tsd_rows)
    _write(tox / "olid_train.csv.gz", ["id", "text", "offensive", "targeted", "target"], olid_rows)
    _write(
        tox / "davidson_tweets.csv.gz",
        ["id", "text", "annotators", "hate_votes", "offensive_votes", "neither_votes", "label"],
        dav_rows,
    )
    ucc_header = ["id", "text", "trusted_judgments"]
    for attr in (
        "antagonize",
        "condescending",
        "dismissive",
        "generalisation",
        "generalisation_unfair",
        "healthy",
        "hostile",
        "sarcastic",
    ):
        ucc_header += [attr, f"{attr}_confidence"]
    _write(tox / "ucc_val.csv.gz", ucc_header, ucc_rows)
    _write(tox / "wiki_identity.csv.gz", ["rev_id", "text", "toxic"], wiki_rows)
    _write(tox / "toxigen_statements.csv.gz", ["text", "group", "label"], tg_rows)
    bodies = [[str(b), f"{CIVIL[b % 4]} The library will close next year, the council said. {b}"] for b in range(12)]
    stances = [
        ["Council to close library", str(b), ["agree", "disagree", "discuss", "unrelated"][b % 4]] for b in range(12)
    ]
    _write(st / "fnc_train_bodies.csv.gz", ["Body ID", "articleBody"], bodies)
    _write(st / "fnc_train_stances.csv.gz", ["Headline", "Body ID", "Stance"], stances)
    _write(st / "arc_train_bodies.csv.gz", ["Body ID", "articleBody"], bodies)
    _write(
        st / "arc_train_stances.csv.gz",
        ["Headline", "Body ID", "Stance"],
        [[f"Claim {b % 5}", b_id, s] for b, (_, b_id, s) in enumerate(stances)],
    )
    _write(
        st / "vast_train.csv.gz",
        ["id", "article_id", "topic", "comment", "stance", "topic_type"],
        [
            [
                i,
                i % 5,
                "libraries",
                CIVIL[i % 4],
                ["agree", "disagree", "discuss", "unrelated"][i % 4],
                "synthetic" if i % 4 == 3 else "listed",
            ]
            for i in range(16)
        ],
    )
    replies = [
        [
            f"r{i}",
            "tiny",
            CIVIL[i % 4],
            f"{['Exactly right', 'No, that is wrong', 'When is the vote'][i % 3]} ({i})",
            ["agree", "disagree", "discuss"][i % 3],
            f"thread{i % 6}",
        ]
        for i in range(24)
    ]
    for name in ("debagreement", "subreddit_agreement", "rumoureval2019", "perspectrum", "ibm_claim_stance"):
        _write(st / f"{name}.csv.gz", ["id", "source", "target", "text", "stance", "parent_id_or_thread"], replies)
    return root
