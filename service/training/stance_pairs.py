"""Stance pairs for the cross-encoded stance pass: what a person wrote, what it answers, and the label, from every
stance set in the data folder, with dev splits that keep a conversation, claim, story or article on one side only.

Sets and their split keys: the reply sets (DEBAGREEMENT, SubReddit agreement, RumourEval 2019, Perspectrum) and IBM
claim stance by ``parent_id_or_thread`` (IBM: the debate topic); VAST by ``article_id``; ARC by claim
(``Headline``); FNC by story: headlines and bodies joined by a related pair form one story, and a whole story is dev
or train. An unrelated pair (FNC's random pairings) is kept where its headline's and its body's stories fall on the
same side and dropped otherwise, so no headline and no body is on both sides.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from service.model.claim import first_sentences
from service.model.labels import STANCE_INDEX

# ibm_claim_stance has the same columns: a debate motion, a Wikipedia claim, the topic as the group (split by topic)
REPLY_SETS = ("debagreement", "subreddit_agreement", "rumoureval2019", "perspectrum", "ibm_claim_stance")
DEV_PERCENT = 15
TEXT_CHARS = 1200  # FNC bodies and ARC posts are read from their opening, as a comment is
TARGET_CHARS = 600


@dataclass(frozen=True)
class StancePair:
    target: str  # what the text answers: a claim, a topic, a headline, a parent comment
    text: str
    label: int  # index into STANCES
    source: str
    group: str  # the split key


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def is_dev(source: str, key: str) -> bool:
    digest = hashlib.sha256(f"stance2:{source}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < DEV_PERCENT


def _pair(target: str, text: str, label: str, source: str, group: str) -> StancePair:
    return StancePair(
        first_sentences(target, TARGET_CHARS), first_sentences(text, TEXT_CHARS), STANCE_INDEX[label], source, group
    )


def reply_pairs(folder: Path, name: str) -> list[StancePair]:
    return [
        _pair(r["target"], r["text"], r["stance"], name, r["parent_id_or_thread"])
        for r in _rows(folder / "stance" / f"{name}.csv.gz")
        if r["text"].strip() and r["target"].strip()
    ]


def vast_pairs(folder: Path) -> list[StancePair]:
    return [
        _pair(r["topic"], r["comment"], r["stance"], "vast", r["article_id"])
        for r in _rows(folder / "stance" / "vast_train.csv.gz")
    ]


def headline_pairs(folder: Path, name: str) -> list[StancePair]:
    """ARC (claim vs reader post) or FNC (headline vs article body); the group is the headline."""
    bodies = {r["Body ID"]: r["articleBody"] for r in _rows(folder / "stance" / f"{name}_train_bodies.csv.gz")}
    return [
        StancePair(
            first_sentences(r["Headline"], TARGET_CHARS),
            first_sentences(bodies[r["Body ID"]], TEXT_CHARS),
            STANCE_INDEX[r["Stance"]],
            name,
            r["Headline"] + "\x00" + r["Body ID"],
        )
        for r in _rows(folder / "stance" / f"{name}_train_stances.csv.gz")
    ]


def load_pairs(folder: Path) -> dict[str, list[StancePair]]:
    sets = {name: reply_pairs(folder, name) for name in REPLY_SETS}
    sets["vast"] = vast_pairs(folder)
    sets["arc"] = headline_pairs(folder, "arc")
    sets["fnc"] = headline_pairs(folder, "fnc")
    return sets


def _stories(pairs: list[StancePair]) -> dict[str, str]:
    """FNC: each headline and body (as "h:..." / "b:...") mapped to its story's root (union-find over related pairs)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        headline, body = p.group.split("\x00")
        h, b = find("h:" + headline), find("b:" + body)
        if p.label != STANCE_INDEX["unrelated"] and h != b:
            parent[h] = b
    return {node: find(node) for node in list(parent)}


def split(pairs: list[StancePair]) -> tuple[list[StancePair], list[StancePair]]:
    """Train and dev, grouped as the module docstring says."""
    if not pairs or pairs[0].source not in ("arc", "fnc"):
        train = [p for p in pairs if not is_dev(p.source, p.group)]
        return train, [p for p in pairs if is_dev(p.source, p.group)]
    if pairs[0].source == "arc":  # ARC's posts answer one claim each: by claim
        train = [p for p in pairs if not is_dev("arc", p.group.split("\x00")[0])]
        return train, [p for p in pairs if is_dev("arc", p.group.split("\x00")[0])]
    story = _stories(pairs)
    train, dev = [], []
    for p in pairs:
        headline, body = p.group.split("\x00")
        sides = {is_dev("fnc", story["h:" + headline]), is_dev("fnc", story["b:" + body])}
        if sides == {True}:
            dev.append(p)
        elif sides == {False}:
            train.append(p)
    return train, dev
