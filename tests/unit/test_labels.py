"""Labels with their provenance, read from records and suggestions (service/moderation/labels.py)."""

from __future__ import annotations

import json
from typing import Any

from service.moderation.labels import decision_label, named_attribute, suggestion_labels
from service.training.learning import label_targets


def record(**fields: str) -> dict[str, str]:
    base = {
        "id": "c1",
        "text": "You absolute clown.",
        "decided_by": "ana",
        "decision": "reject",
        "decided_at": "5.5",
        "model_version": "moderato-v9+x",
    }
    return {**base, **fields}


def test_a_moderators_decision_is_a_label_with_its_provenance() -> None:
    label = decision_label("site", record(decision_reason="insult: rule 4"))
    assert label is not None
    assert (label.toxic, label.source, label.at, label.model, label.attribute, label.by) == (
        1,
        "moderator",
        5.5,
        "moderato-v9+x",
        "insult",
        "ana",
    )


def test_a_reversal_replaces_and_a_report_outcome_is_its_own_source() -> None:
    reversed_ = decision_label("site", record(decision="approve", reversed="1", decision_reason="satire"))
    assert reversed_ is not None and (reversed_.toxic, reversed_.source) == (0, "reversal")
    reported = decision_label("site", record(reports="2", decision_reason=""))
    assert reported is not None and (reported.source, reported.attribute) == ("report", "toxicity")


def test_the_models_own_decisions_and_escalations_are_not_labels() -> None:
    assert decision_label("site", record(decided_by="model")) is None
    assert decision_label("site", record(decision="escalate")) is None
    assert decision_label("site", record(text="")) is None  # nothing to learn from


def test_a_reason_names_an_attribute_in_the_words_moderators_use() -> None:
    assert named_attribute("Identity attack on a group") == "identity_attack"
    assert named_attribute("severe-toxicity, repeat offender") == "severe_toxicity"
    assert named_attribute("THREAT") == "threat"
    assert named_attribute("spam") == "toxicity"
    assert named_attribute("insulting") == "toxicity"  # a whole word only


def test_suggested_scores_are_labels_per_attribute_and_old_entries_still_read() -> None:
    entry = {
        "text": "hi",
        "scores": json.dumps({"INSULT": 0.9, "FLIRTATION": 1.0}),
        "attributes": json.dumps({"insult": 0.9}),
        "model": "m",
        "at": "7",
    }
    (label,) = suggestion_labels("site", "7000-0", entry)
    assert (label.attribute, label.toxic, label.source, label.at, label.model) == (
        "insult",
        1,
        "suggestscore",
        7.0,
        "m",
    )
    old = {"text": "hi", "scores": json.dumps({"TOXICITY_EXPERIMENTAL": 0.2})}
    (label,) = suggestion_labels("site", "9000-1", old)
    assert (label.attribute, label.toxic, label.at, label.id) == ("toxicity", 0, 9.0, "suggested-9000-1")


def test_what_a_label_says_per_attribute() -> None:
    insult = decision_label("site", record(decision_reason="insult"))
    civil = decision_label("site", record(decision="approve", decision_reason=""))
    not_a_threat = decision_label("site", record(decision="approve", decision_reason="not a threat"))
    assert insult and civil and not_a_threat
    as_list = lambda label: ["nan" if v != v else v for v in label_targets(label)]  # noqa: E731
    assert as_list(insult) == [1.0, "nan", 1.0, "nan", "nan", "nan"]
    assert as_list(civil) == [0.0] * 6
    assert as_list(not_a_threat) == ["nan", "nan", "nan", 0.0, "nan", "nan"]


def test_the_admins_counts_agree_with_the_labels_on_a_real_redis(redis_client: Any, redis_server: Any) -> None:
    """``label_counts`` reads fields and the text's length only; it must count exactly what ``tenant_labels`` yields
    (moderators, reversals, reports; the model's decisions and text-less records left out; suggestions)."""
    import asyncio

    import redis.asyncio as aioredis

    from service import redis_keys as keys
    from service.moderation.labels import label_counts, tenant_labels

    decided = {
        "a": record(id="a"),
        "b": record(id="b", decision="approve", reversed="1"),
        "c": record(id="c", reports="3"),
        "d": record(id="d", decided_by="model"),
        "e": record(id="e", text=""),
        "f": record(id="f", decision="approve", text="x" * 20_000),
    }
    for n, (comment_id, fields) in enumerate(decided.items()):
        redis_client.hset(keys.comment("site", comment_id), mapping=fields)
        view = "rejected" if fields["decision"] == "reject" else "approved"
        redis_client.zadd(keys.decided("site", view), {comment_id: n})
    redis_client.xadd(keys.suggested_scores("site"), {"text": "hi", "attributes": json.dumps({"insult": 0.9})})

    async def both() -> tuple[dict[str, dict[str, int]], list[Any]]:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            return await label_counts(client, "site"), await tenant_labels(client, "site")
        finally:
            await client.aclose()

    counts, labels = asyncio.run(both())
    expected: dict[str, dict[str, int]] = {}
    for label in labels:
        row = expected.setdefault(label.source, {"labels": 0, "toxic": 0})
        row["labels"] += 1
        row["toxic"] += label.toxic
    assert counts == expected
    assert counts["moderator"] == {"labels": 2, "toxic": 1} and counts["reversal"] == {"labels": 1, "toxic": 0}
    assert counts["report"] == {"labels": 1, "toxic": 1} and counts["suggestscore"]["labels"] == 1


def test_the_admins_counts_follow_changes_reading_only_what_changed(redis_client: Any, redis_server: Any) -> None:
    """After a first count, the counts follow new decisions, a report on a decided comment (a label's source changes
    with no new decision) and an erasure, exactly as ``tenant_labels`` does, and a second count reads the records of
    the comments that changed, not every decided one (Redis's own command counts)."""
    import asyncio
    import time

    import redis.asyncio as aioredis

    from service import redis_keys as keys
    from service.moderation.labels import label_counts, tenant_labels
    from service.moderation.records import Records

    def decide(comment_id: str, at: float, **fields: str) -> None:
        fields = record(id=comment_id, status="decided", decided_at=f"{at:.3f}", **fields)
        redis_client.hset(keys.comment("site", comment_id), mapping=fields)
        view = "rejected" if fields["decision"] == "reject" else "approved"
        redis_client.zrem(keys.decided("site", "approved" if view == "rejected" else "rejected"), comment_id)
        redis_client.zadd(keys.decided("site", view), {comment_id: at})

    long_ago = time.time() - 86_400
    for n in range(300):
        decide(f"old-{n}", long_ago + n, decision="reject" if n % 3 else "approve")

    def hmgets() -> int:
        stats = redis_client.info("commandstats")
        return int(stats.get("cmdstat_hmget", {}).get("calls", 0))

    async def counted() -> tuple[dict[str, dict[str, int]], dict[str, dict[str, int]], int]:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            redis_client.config_resetstat()
            counts = await label_counts(client, "site")
            reads = hmgets()
            expected: dict[str, dict[str, int]] = {}
            for label in await tenant_labels(client, "site"):
                row = expected.setdefault(label.source, {"labels": 0, "toxic": 0})
                row["labels"] += 1
                row["toxic"] += label.toxic
            return counts, expected, reads
        finally:
            await client.aclose()

    async def report_and_erase() -> None:
        client = aioredis.Redis.from_url(redis_server.url)
        try:
            records = Records(client, max_backlog=1000)
            await records.report("site", "old-1", "spam", 1.0)
            await records.erase("site", "old-2", actor="ana")
        finally:
            await client.aclose()

    first, expected, reads = asyncio.run(counted())
    assert first == expected == {"moderator": {"labels": 300, "toxic": 200}} and reads == 300

    now = time.time()
    decide("new-1", now)
    decide("old-0", now, decision="reject", reversed="1")  # approved long ago, reversed now
    asyncio.run(report_and_erase())
    assert not redis_client.hexists(keys.label_tally("site"), "old-2")  # erasure leaves no trace of it in the tally
    second, expected, reads = asyncio.run(counted())
    assert second == expected
    assert second["report"] == {"labels": 1, "toxic": 1} and second["reversal"] == {"labels": 1, "toxic": 1}
    assert second["moderator"]["labels"] == 300 - 3 + 1  # old-0 reversed, old-1 reported, old-2 erased; new-1
    assert reads == 3  # new-1, old-0 and old-1 read again; not the other 297
