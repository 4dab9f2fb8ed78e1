"""Read the training sets in a data folder and map every source onto Moderato's label schema.

The folder layout and columns are those of the shared data README: ``toxicity/*.csv.gz`` and ``stance/*.csv.gz``.
A target of ``nan`` means the source says nothing about that attribute (masked in the loss and in metrics).
Dev splits are deterministic: toxicity by a hash of the normalised text (Civil Comments appears in two sets, so the
same comment always lands on the same side), FNC by body, ARC by claim and VAST by article.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from service.model.claim import article_claim, first_sentences
from service.model.labels import ATTRIBUTE_INDEX, ATTRIBUTES, SPAN_INDEX, STANCE_INDEX
from service.training.identity import TRAIN_NEUTRAL, TRAIN_TOXIC, templated
from service.training.insults import training_insults
from service.training.threats import training_threats

NAN = math.nan
DEV_PERCENT = {"default": 15, "ucc": 30}
# FNC bodies are long; the stance model reads their opening, as it reads a comment.
BODY_CHARS = 1200
# Span type of a toxic character whose source does not say which attribute it expresses.
UNTYPED = -1


@dataclass
class ToxicityExample:
    """One text with attribute targets (soft, ``nan`` where unknown) and optional toxic character spans."""

    text: str
    source: str
    targets: list[float]
    # (start, end, span attribute index); None when the source has no span annotation at all.
    spans: list[tuple[int, int, int]] | None = None
    subgroups: tuple[str, ...] = ()
    annotators: int = 0  # size of the panel behind soft targets, where the source says (civil_toxic_spans)
    # the panel's own shares per attribute (civil_toxic_spans), before ``seen_share`` makes the subtypes' targets
    panel: dict[str, float] = field(default_factory=dict)


@dataclass
class StanceExample:
    """A text (comment, post or article body) and the claim it is judged against."""

    text: str
    claim: str
    label: int
    source: str
    extra: dict[str, str] = field(default_factory=dict)


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        yield from csv.DictReader(f)


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def is_dev(key: str, source: str = "default") -> bool:
    """Deterministic train/dev assignment by a stable hash of the key."""
    bucket = int(hashlib.md5(key.encode("utf-8")).hexdigest()[:8], 16) % 100
    return bucket < DEV_PERCENT.get(source, DEV_PERCENT["default"])


def _targets(**values: float) -> list[float]:
    out = [NAN] * len(ATTRIBUTES)
    for name, value in values.items():
        out[ATTRIBUTE_INDEX[name]] = value
    return out


def _runs(labels: dict[int, int]) -> list[tuple[int, int, int]]:
    """Turn per-character labels into (start, end, label) runs of consecutive characters."""
    runs: list[tuple[int, int, int]] = []
    for pos in sorted(labels):
        if runs and runs[-1][1] == pos and runs[-1][2] == labels[pos]:
            runs[-1] = (runs[-1][0], pos + 1, labels[pos])
        else:
            runs.append((pos, pos + 1, labels[pos]))
    return runs


_SPAN_TYPE = {
    "insult": "insult",
    "threat": "threat",
    "identity_attack": "identity_attack",
    "obscene": "obscene",
    "other": "toxicity",
}


def civil_majority_spans(text: str, annotators: int, raw: str) -> list[tuple[int, int, int]]:
    """Characters marked by at least half the annotators, typed by the type most of them gave."""
    votes: dict[int, dict[int, set[str]]] = {}
    for annotator, kind, start, end in json.loads(raw):
        span_type = SPAN_INDEX[_SPAN_TYPE.get(kind, "toxicity")]
        for pos in range(max(0, int(start)), min(len(text), int(end))):
            votes.setdefault(pos, {}).setdefault(span_type, set()).add(str(annotator))
    labels = {}
    for pos, by_type in votes.items():
        voters = set().union(*by_type.values())
        if len(voters) * 2 >= annotators:
            labels[pos] = max(by_type, key=lambda t: (len(by_type[t]), -t))
    return _runs(labels)


# A type at least this share of the panel marked counts as seen by readers (``seen_share``).
SEEN_BY = 0.3


def seen_share(toxic: float, marked: float) -> float:
    """A subtype's target on Toxic Spans: the toxic share where enough raters marked the type, else their share.

    Raters give each span one type, so a clear insult that some call "insult" and others "other" or "identity
    attack" had an insult share near one half, and the head learned to answer about 0.6 for plain insults: a site's
    Perspective rule ``INSULT >= 0.8`` could never fire. Perspective's raters answered each attribute on its own;
    the closest reading here is that a type enough raters saw is in the comment as surely as its toxicity is.
    """
    return max(toxic, marked) if marked >= SEEN_BY else marked


def load_civil_toxic_spans(folder: Path) -> list[ToxicityExample]:
    """Toxic Spans (Civil Comments): annotator shares become soft targets (subtypes by ``seen_share``); majority
    spans become span labels."""
    out = []
    for row in _rows(folder / "toxicity" / "civil_toxic_spans.csv.gz"):
        frac = {
            k: float(row[f"{k}_frac"])
            for k in ("not_toxic", "all_toxic", "insult", "threat", "identity_attack", "obscene")
        }
        toxic = 1 - frac["not_toxic"]
        targets = _targets(
            toxicity=toxic,
            severe_toxicity=seen_share(toxic, frac["all_toxic"]) if frac["all_toxic"] >= 0.5 else frac["all_toxic"],
            insult=seen_share(toxic, frac["insult"]),
            threat=seen_share(toxic, frac["threat"]),
            identity_attack=seen_share(toxic, frac["identity_attack"]),
            obscene=seen_share(toxic, frac["obscene"]),
        )
        spans = civil_majority_spans(row["text"], int(row["annotators"]), row["spans"])
        panel = {"toxicity": toxic, "severe_toxicity": frac["all_toxic"]} | {
            name: frac[name] for name in ("insult", "threat", "identity_attack", "obscene")
        }
        out.append(
            ToxicityExample(row["text"], "civil", targets, spans, annotators=int(row["annotators"]), panel=panel)
        )
    return out


def load_tsd(folder: Path) -> list[ToxicityExample]:
    """SemEval-2021 toxic spans: span labels only, untyped (type ``UNTYPED``); a post with spans is toxic, one
    without is unknown."""
    out = []
    for row in _rows(folder / "toxicity" / "tsd_train.csv.gz"):
        offsets = json.loads(row["spans"])
        labels = {int(p): UNTYPED for p in offsets if 0 <= int(p) < len(row["text"])}
        targets = _targets(toxicity=1.0) if labels else _targets()
        out.append(ToxicityExample(row["text"], "tsd", targets, _runs(labels)))
    return out


def load_olid(folder: Path) -> list[ToxicityExample]:
    """OLID: offensive -> toxicity; targeted at a person -> insult; at a group -> identity attack (noisy);
    untargeted offence -> obscene (profanity)."""
    out = []
    for row in _rows(folder / "toxicity" / "olid_train.csv.gz"):
        if row["offensive"] == "0":
            targets = _targets(
                toxicity=0.0, severe_toxicity=0.0, insult=0.0, threat=NAN, identity_attack=0.0, obscene=0.0
            )
        else:
            targeted, target = row["targeted"] == "1", row["target"]
            targets = _targets(
                toxicity=1.0,
                insult=1.0 if target == "IND" else NAN,
                identity_attack=1.0 if target == "GRP" else NAN,
                obscene=0.0 if targeted else 1.0,
            )
        out.append(ToxicityExample(row["text"], "olid", targets))
    return out


def load_davidson(folder: Path) -> list[ToxicityExample]:
    """Davidson: offensive or hateful votes -> toxicity; hate votes -> identity attack and severe toxicity."""
    out = []
    for row in _rows(folder / "toxicity" / "davidson_tweets.csv.gz"):
        n = max(1, int(row["annotators"]))
        hate, offensive = int(row["hate_votes"]) / n, int(row["offensive_votes"]) / n
        targets = _targets(
            toxicity=min(1.0, hate + offensive),
            severe_toxicity=hate,
            identity_attack=hate,
            threat=0.0 if row["label"] == "neither" else NAN,
            insult=0.0 if row["label"] == "neither" else NAN,
            obscene=0.0 if row["label"] == "neither" else NAN,
        )
        out.append(ToxicityExample(row["text"], "davidson", targets))
    return out


def ucc_share(row: dict[str, str], label: str) -> float:
    """The share of UCC's annotators who gave ``label``, from the majority label and its confidence."""
    confidence = float(row[f"{label}_confidence"] or 1)  # no confidence given: the label itself
    return confidence if row[label] == "1" else 1 - confidence


def load_ucc(folder: Path) -> list[ToxicityExample]:
    """Unhealthy Comments (news comments): toxicity is the larger of the hostile and the antagonize share (both are
    what a moderator removes; a provoking comment taught as a clean negative pulled news comments down). A comment
    that is neither by majority is negative for every finer attribute; otherwise they are unknown."""
    out = []
    for row in _rows(folder / "toxicity" / "ucc_val.csv.gz"):
        toxic = max(ucc_share(row, "hostile"), ucc_share(row, "antagonize"))
        finer = NAN if toxic >= 0.5 else 0.0
        targets = _targets(toxicity=toxic, **{name: finer for name in ATTRIBUTES if name != "toxicity"})
        out.append(ToxicityExample(row["text"], "ucc", targets))
    return out


def ucc_labels(folder: Path) -> dict[str, dict[str, str]]:
    """UCC's rows with all their labels and confidences, by normalised text (how evaluation and calibration find
    a dev example's row)."""
    return {normalise(row["text"]): row for row in _rows(folder / "toxicity" / "ucc_val.csv.gz")}


def load_wiki_identity(folder: Path) -> list[ToxicityExample]:
    from service.training.identity import mentioned_subgroups

    out = []
    for row in _rows(folder / "toxicity" / "wiki_identity.csv.gz"):
        toxic = row["toxic"] == "1"
        targets = _targets(toxicity=1.0) if toxic else _targets(**{name: 0.0 for name in ATTRIBUTES})
        out.append(
            ToxicityExample(
                row["text"], "wiki_identity", targets, subgroups=tuple(sorted(mentioned_subgroups(row["text"])))
            )
        )
    return out


def load_toxigen(folder: Path) -> list[ToxicityExample]:
    """ToxiGen statements: hate -> toxicity and identity attack; neutral -> negative for every attribute."""
    out = []
    for row in _rows(folder / "toxicity" / "toxigen_statements.csv.gz"):
        if row["label"] == "hate":
            targets = _targets(toxicity=1.0, identity_attack=1.0)
        else:
            targets = _targets(**{name: 0.0 for name in ATTRIBUTES})
        out.append(ToxicityExample(row["text"], "toxigen", targets, subgroups=(row["group"],)))
    return out


def load_identity_templates() -> list[ToxicityExample]:
    """Generated sentences that mention each identity both neutrally and abusively (training templates only)."""
    out = []
    for s in templated(TRAIN_NEUTRAL, TRAIN_TOXIC):
        targets = (
            _targets(toxicity=1.0, insult=NAN, identity_attack=1.0)
            if s.toxic
            else _targets(**{name: 0.0 for name in ATTRIBUTES})
        )
        out.append(ToxicityExample(s.text, "identity_templates", targets, subgroups=(s.subgroup,)))
    return out


def _span_templates(
    sentences: list[tuple[str, tuple[int, int] | None]], source: str, attribute: str, positive: list[float]
) -> list[ToxicityExample]:
    """Generated sentences: those with a span are positives (``positive`` targets, the span typed ``attribute``), the
    rest are clean for every attribute."""
    span_type = SPAN_INDEX[attribute]
    out = []
    for text, span in sentences:
        if span:
            out.append(ToxicityExample(text, source, positive, [(span[0], span[1], span_type)]))
        else:
            out.append(ToxicityExample(text, source, _targets(**{name: 0.0 for name in ATTRIBUTES}), []))
    return out


def load_threat_templates() -> list[ToxicityExample]:
    """Generated threats (the threatening phrase as a ``threat`` span) and harmless sentences built the same way."""
    sentences = [(s.text, s.span if s.threat else None) for s in training_threats()]
    positive = _targets(toxicity=1.0, threat=1.0, identity_attack=0.0, obscene=0.0)
    return _span_templates(sentences, "threat_templates", "threat", positive)


def load_insult_templates() -> list[ToxicityExample]:
    """Generated plain insults (the insulting phrase as an ``insult`` span) and civil sentences in the same frames."""
    sentences = [(s.text, s.span if s.insult else None) for s in training_insults()]
    positive = _targets(toxicity=1.0, insult=1.0, threat=0.0, identity_attack=0.0)
    return _span_templates(sentences, "insult_templates", "insult", positive)


def load_arc_civil(folder: Path) -> list[ToxicityExample]:
    """ARC user posts: civil opinion comments from a news site, used as soft negatives against
    "news-comment style means toxic". Soft (0.1) because a few of them are rude."""
    out = []
    for row in _rows(folder / "stance" / "arc_train_bodies.csv.gz"):
        targets = _targets(**{name: 0.1 for name in ATTRIBUTES})
        out.append(ToxicityExample(row["articleBody"], "arc_civil", targets))
    return out


def load_moderator_labels(folder: Path) -> list[ToxicityExample]:
    """Moderators' decisions exported by `moderato export-labels` (optional file): reject -> toxic."""
    path = folder / "toxicity" / "moderator_labels.csv.gz"
    if not path.exists():
        return []
    out = []
    for row in _rows(path):
        toxic = row["toxic"] == "1"
        targets = _targets(toxicity=1.0) if toxic else _targets(**{name: 0.0 for name in ATTRIBUTES})
        out.append(ToxicityExample(row["text"], "moderator_labels", targets))
    return out


TOXICITY_LOADERS = {
    "civil": load_civil_toxic_spans,
    "tsd": load_tsd,
    "olid": load_olid,
    "davidson": load_davidson,
    "ucc": load_ucc,
    "wiki_identity": load_wiki_identity,
    "toxigen": load_toxigen,
    "arc_civil": load_arc_civil,
    "moderator_labels": load_moderator_labels,
}


def toxicity_examples(folder: Path) -> dict[str, list[ToxicityExample]]:
    """All toxicity sources by name (templates included), before splitting."""
    out = {name: loader(folder) for name, loader in TOXICITY_LOADERS.items()}
    out["identity_templates"] = load_identity_templates()
    out["threat_templates"] = load_threat_templates()
    out["insult_templates"] = load_insult_templates()
    return out


def available_toxicity_examples(folder: Path) -> dict[str, list[ToxicityExample]]:
    """``toxicity_examples``, a source whose file the folder lacks left empty (a site's learn job may run with part
    of the base mix; the templates are always there)."""
    out: dict[str, list[ToxicityExample]] = {}
    for name, loader in TOXICITY_LOADERS.items():
        try:
            out[name] = loader(folder)
        except FileNotFoundError:
            out[name] = []
    out["identity_templates"] = load_identity_templates()
    out["threat_templates"] = load_threat_templates()
    out["insult_templates"] = load_insult_templates()
    return out


# Generated sentences: all training; the evaluation has its own disjoint templates.
TEMPLATE_SOURCES = ("identity_templates", "threat_templates", "insult_templates")


def split_toxicity(examples: list[ToxicityExample]) -> tuple[list[ToxicityExample], list[ToxicityExample]]:
    """Train/dev by text hash; generated templates are all training."""
    train: list[Any] = []
    dev: list[Any] = []
    for ex in examples:
        held_out = ex.source not in TEMPLATE_SOURCES and is_dev(normalise(ex.text), ex.source)
        (dev if held_out else train).append(ex)
    return train, dev


def load_fnc(folder: Path) -> list[StanceExample]:
    """FNC-1: the body is the text, the headline the claim. Half the related pairs also get the lead of another
    body about the same headline as article context, as the service gives title + lead."""
    bodies = {r["Body ID"]: r["articleBody"] for r in _rows(folder / "stance" / "fnc_train_bodies.csv.gz")}
    rows = list(_rows(folder / "stance" / "fnc_train_stances.csv.gz"))
    related: dict[str, list[str]] = {}
    for r in rows:
        if r["Stance"] != "unrelated":
            related.setdefault(r["Headline"], []).append(r["Body ID"])
    out = []
    for i, r in enumerate(rows):
        claim = r["Headline"]
        others = [b for b in related.get(claim, []) if b != r["Body ID"]]
        if others and i % 2 == 0:
            claim = article_claim(claim, bodies[others[i % len(others)]])
        out.append(
            StanceExample(
                first_sentences(bodies[r["Body ID"]], BODY_CHARS),
                claim,
                STANCE_INDEX[r["Stance"]],
                "fnc",
                {"split_key": r["Body ID"], "headline": r["Headline"]},
            )
        )
    return out


def load_arc(folder: Path) -> list[StanceExample]:
    bodies = {r["Body ID"]: r["articleBody"] for r in _rows(folder / "stance" / "arc_train_bodies.csv.gz")}
    return [
        StanceExample(
            bodies[r["Body ID"]], r["Headline"], STANCE_INDEX[r["Stance"]], "arc", {"split_key": r["Headline"]}
        )
        for r in _rows(folder / "stance" / "arc_train_stances.csv.gz")
    ]


def load_vast(folder: Path) -> list[StanceExample]:
    return [
        StanceExample(
            r["comment"],
            r["topic"],
            STANCE_INDEX[r["stance"]],
            "vast",
            {"split_key": r["article_id"], "topic_type": r["topic_type"]},
        )
        for r in _rows(folder / "stance" / "vast_train.csv.gz")
    ]


STANCE_LOADERS = {"fnc": load_fnc, "arc": load_arc, "vast": load_vast}


def stance_examples(folder: Path) -> dict[str, list[StanceExample]]:
    return {name: loader(folder) for name, loader in STANCE_LOADERS.items()}


def split_stance(examples: list[StanceExample]) -> tuple[list[StanceExample], list[StanceExample]]:
    train: list[Any] = []
    dev: list[Any] = []
    for ex in examples:
        (dev if is_dev(ex.source + ":" + ex.extra["split_key"]) else train).append(ex)
    return train, dev
