"""``moderato choose-stance-prior``: how often the service expects a comment under its own article to be off-topic.

The article head was trained with its datasets' class mix (FNC and ARC pair claims with random posts, so
`unrelated` is common there); the service shifts its logits to the mix a comment section has (``stance_prior``,
Predictor's prior shift). The share given to `unrelated` sets the on-topic call: too small and chatter and spam read
as on-topic; too large and a short reaction that names nothing in the story ("What a farce") reads as off-topic.

It is chosen on dev, never on the behaviour set that judges it (tests/model/topicality_set.py):
- the dev behaviour set (service/training/topicality_dev.py): short reactions and chatter under invented stories;
  the share is the one that catches the most off-topic comments there while calling at most
  ``MAX_STORY_ON_TOPIC_UNRELATED`` of its on-topic reactions `unrelated` (issue 23's bound for insults);
- and keeps real reader comments on-topic: on the rows of VAST (comments under their own article) and ARC (posts
  under their own claim) that the head held out (data.py's grouped split, not the cross encoder's: see
  stance_eval.article_head_dev_sample), at most ``MAX_ON_TOPIC_UNRELATED`` of on-topic rows called `unrelated`, the
  bound the stance offsets are chosen under (stance_eval.choose_offsets).
The three other classes share the rest equally, as before.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from service.config import STANCE_PRIOR_FILE, stance_prior_with
from service.model.labels import STANCE_INDEX, STANCES
from service.model.predict import Predictor
from service.training.stance_eval import article_head_dev_sample, predictor_scores
from service.training.stance_pairs import headline_pairs, vast_pairs
from service.training.topicality_dev import DEV_STORIES, dev_counts

log = logging.getLogger(__name__)

MAX_ON_TOPIC_UNRELATED = 0.05
MAX_STORY_ON_TOPIC_UNRELATED = 0.10
GRID = tuple(round(float(x), 2) for x in np.arange(0.05, 0.51, 0.05))
METRICS_FILE = STANCE_PRIOR_FILE
UNRELATED = STANCE_INDEX["unrelated"]


def called_unrelated(logp: np.ndarray, train_prior: list[float], unrelated: float) -> np.ndarray:
    """Which rows the served head calls `unrelated` under this share (log-probabilities under the training prior)."""
    shift = np.log(stance_prior_with(unrelated)) - np.log(np.array(train_prior))
    return np.asarray((logp + shift).argmax(1) == UNRELATED)


def dev_story_log_probs(predictor: Predictor) -> tuple[np.ndarray, np.ndarray]:
    """The dev behaviour set under the training prior, read as the service reads a story (title and lead):
    log-probabilities, and whether each comment is off-topic."""
    logp, off = [], []
    for story in DEV_STORIES:
        state = predictor.encode_article(story.title, story.lead)
        for texts, is_off in ((story.on_topic, False), (story.off_topic, True)):
            for p in predictor.predict(list(texts), state):
                assert p.stance is not None
                logp.append(np.log([p.stance.scores[s] + 1e-9 for s in STANCES]))
                off.append(is_off)
    return np.array(logp), np.array(off)


def grouped_dev_log_probs(predictor: Predictor, data: Path, limit: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """VAST and ARC grouped dev rows: log-probabilities under the training prior, and which rows are off-topic. A
    set whose dev rows hold no on-topic and off-topic comment both (a small data folder) cannot judge, and is left
    out."""
    out = {}
    for name, pairs in (("vast", vast_pairs(data)), ("arc", headline_pairs(data, "arc"))):
        dev = article_head_dev_sample(pairs, limit)
        off = np.array([p.label == UNRELATED for p in dev], dtype=bool)
        if off.all() or not off.any():
            log.warning("%s: %d dev rows, not both on- and off-topic ones: it does not judge the prior", name, len(dev))
            continue
        out[name] = (np.log(predictor_scores(predictor, dev) + 1e-9), off)
    return out


def grid_rows(
    stories: tuple[np.ndarray, np.ndarray], grouped: dict[str, tuple[np.ndarray, np.ndarray]], train_prior: list[float]
) -> list[dict[str, Any]]:
    rows = []
    for share in GRID:
        called = called_unrelated(stories[0], train_prior, share)
        off = stories[1]
        row: dict[str, Any] = {
            "unrelated_share": share,
            "dev_stories_on_topic_called_unrelated": round(float(called[~off].mean()), 4),
            "dev_stories_off_topic_caught": round(float(called[off].mean()), 4),
        }
        for name, (logp, is_off) in grouped.items():
            flagged = called_unrelated(logp, train_prior, share)
            row[f"{name}_on_topic_called_unrelated"] = round(float(flagged[~is_off].mean()), 4)
            row[f"{name}_off_topic_caught"] = round(float(flagged[is_off].mean()), 4)
        rows.append(row)
    return rows


def choose(rows: list[dict[str, Any]], grouped: list[str]) -> dict[str, Any]:
    """The share that catches the most off-topic dev stories' comments among those that keep on-topic comments
    on-topic (ties: the smaller share, the one that calls fewer comments off-topic)."""
    allowed = [
        r
        for r in rows
        if r["dev_stories_on_topic_called_unrelated"] <= MAX_STORY_ON_TOPIC_UNRELATED
        and all(r[f"{n}_on_topic_called_unrelated"] <= MAX_ON_TOPIC_UNRELATED for n in grouped)
    ]
    if not allowed:
        raise ValueError(
            f"no off-topic share from {GRID[0]} to {GRID[-1]} keeps on-topic comments on-topic: at most "
            f"{MAX_STORY_ON_TOPIC_UNRELATED:.0%} of the dev stories' reactions and {MAX_ON_TOPIC_UNRELATED:.0%} of "
            f"{', '.join(grouped) or 'no grouped set'}'s on-topic comments may be called unrelated; nothing written"
        )
    return max(allowed, key=lambda r: (r["dev_stories_off_topic_caught"], -r["unrelated_share"]))


def choose_stance_prior_command(data: Path, model: Path, limit: int) -> dict[str, Any]:
    """Score the dev sets once under the training prior, read every share on the grid, write the report into the
    model folder and return it."""
    from service.system import git_commit, machine

    predictor = Predictor(model, stance_prior=None)
    train_prior = list(predictor.config.stance_train_prior)
    grouped = grouped_dev_log_probs(predictor, data, limit)
    rows = grid_rows(dev_story_log_probs(predictor), grouped, train_prior)
    chosen = choose(rows, list(grouped))
    report = {
        "chosen_unrelated_share": chosen["unrelated_share"],
        "chosen_prior": [round(float(p), 4) for p in stance_prior_with(chosen["unrelated_share"])],
        "model": predictor.version,
        "command": f"moderato choose-stance-prior --data DATA --model {model} --limit {limit}",
        "dev": {
            "stories": dev_counts(),
            "grouped": {name: {"rows": len(v[1]), "off_topic": int(v[1].sum())} for name, v in grouped.items()},
            "split": "the rows the article head held out: service/training/data.py's grouped dev split (ARC by claim, "
            "VAST by article), sampled per set (seed 0)",
        },
        "rule": "the most dev stories' off-topic comments caught, with their on-topic comments called unrelated "
        f"<= {MAX_STORY_ON_TOPIC_UNRELATED} and on-topic rows of {', '.join(grouped)} <= {MAX_ON_TOPIC_UNRELATED}",
        "grid": rows,
        "commit": git_commit(),
        "machine": machine(),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (model / METRICS_FILE).write_text(json.dumps(report, indent=1) + "\n")
    return report
