"""Bursty ingest, real worker processes, review queues, decisions, webhooks, audit and stats, on a real Redis."""

from __future__ import annotations

import json
import signal
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service import redis_keys as keys
from service.config import Settings, WebhookSettings
from service.moderation.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from service.redis_server import EmbeddedRedis
from tests.conftest import auth
from tests.utils.processes import WebhookReceiver, start_worker, wait_for

pytestmark = pytest.mark.slow

TEXTS = [
    "Great point about the budget, thanks.",
    "You are a complete idiot and a liar.",
    "I disagree, the library should stay open.",
    "Shut up, nobody cares about your stupid opinion.",
    "What time is the council meeting?",
    "People like you are ruining this town, you moron.",
]


def comments(
    n: int, *, prefix: str = "c", thread: str = "t1", article: str | None = None, **extra: Any
) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "text": f"{TEXTS[i % len(TEXTS)]} ({i % 97})",
            "thread_id": thread,
            **({"article_id": article} if article else {}),
            **extra,
        }
        for i in range(n)
    ]


def post(client: TestClient, batch: list[dict[str, Any]], key: str = "pk-a") -> Any:
    return client.post("/v1/comments", json={"comments": batch}, headers=auth(key))


def statuses(r: redis.Redis, tenant: str, ids: list[str]) -> Counter[str]:
    pipe = r.pipeline()
    for cid in ids:
        pipe.hget(keys.comment(tenant, cid), "status")
    return Counter((s or b"missing").decode() for s in pipe.execute())


def test_burst_is_scored_once_with_two_workers(
    client: TestClient, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    batches = [comments(500, prefix=f"b{j}-") for j in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda b: post(client, b), batches))
    assert all(r.status_code == 202 and r.json()["accepted"] == 500 for r in responses)
    retry = post(client, batches[0][:50])  # a client retry: same ids
    assert retry.status_code == 202 and retry.json()["accepted"] == 0
    assert {i["status"] for i in retry.json()["items"]} == {"duplicate"}
    ids = [c["id"] for b in batches for c in b]
    workers = [start_worker(redis_server.url, name=f"w{i}", burst=True, log=tmp_path / f"w{i}.log") for i in range(2)]
    for w in workers:
        assert w.wait(timeout=240) == 0, (tmp_path / "w0.log").read_text()[-3000:]
    counts = statuses(redis_client, "tenant-a", ids)
    assert counts["queued"] == 0 and counts["missing"] == 0 and counts["failed"] == 0
    assert counts["scored"] + counts["decided"] == 3000
    assert redis_client.xlen(keys.ingest("tenant-a")) == 0
    model_decisions = Counter(e[1][b"comment_id"] for e in redis_client.xrange(keys.audit("tenant-a")))
    assert model_decisions and max(model_decisions.values()) == 1  # nobody decided twice
    assert len(model_decisions) == counts["decided"]
    state = client.get(f"/v1/comments/{ids[1]}", headers=auth("pk-a")).json()
    assert state["status"] in ("scored", "decided") and set(state["result"]) >= {"scores", "spans", "decision"}


def _pending(r: redis.Redis, tenant: str) -> int:
    try:
        return int(r.xpending(keys.ingest(tenant), keys.INGEST_GROUP)["pending"])
    except redis.ResponseError:  # the group appears when a worker first sees the tenant
        return 0


def test_killed_worker_messages_are_taken_over(
    client: TestClient, redis_client: redis.Redis, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    # every text distinct, so the model (not the cache) does the work and a batch takes a while
    batch = [
        {"id": f"k{i}", "text": f"Comment {i}: {TEXTS[i % len(TEXTS)]} " * 3, "thread_id": "t"} for i in range(600)
    ]
    assert post(client, batch).status_code == 202
    victim = start_worker(redis_server.url, name="victim", log=tmp_path / "victim.log", worker_batch=200)
    wait_for(lambda: _pending(redis_client, "tenant-a") > 0, 120, "a batch in hand")
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert _pending(redis_client, "tenant-a") > 0  # it died holding messages
    rescuer = start_worker(
        redis_server.url, name="rescuer", burst=True, log=tmp_path / "rescuer.log", claim_idle_ms=500
    )
    assert rescuer.wait(timeout=240) == 0, (tmp_path / "rescuer.log").read_text()[-3000:]
    counts = statuses(redis_client, "tenant-a", [c["id"] for c in batch])
    assert counts["scored"] + counts["decided"] == 600, counts
    assert _pending(redis_client, "tenant-a") == 0
    taken_over = redis_client.xinfo_consumers(keys.ingest("tenant-a"), keys.INGEST_GROUP)
    assert {c["name"].decode() for c in taken_over} >= {"victim", "rescuer"}


def test_redis_restart_from_append_only_file_loses_nothing(settings: Settings, runner: Any, tmp_path: Path) -> None:
    from service.api.app import create_app

    server = EmbeddedRedis(tmp_path / "aof").start()
    with TestClient(create_app(settings.model_copy(update={"redis_url": server.url}), runner=runner)) as client:
        assert post(client, comments(300, prefix="r")).json()["accepted"] == 300
    server.kill()  # a crash, not a clean shutdown
    server.start()
    worker = start_worker(server.url, name="after-crash", burst=True, log=tmp_path / "w.log")
    assert worker.wait(timeout=180) == 0
    with redis.Redis.from_url(server.url) as r:
        counts = statuses(r, "tenant-a", [f"r{i}" for i in range(300)])
    server.stop()
    assert counts["scored"] + counts["decided"] == 300, counts


def test_backpressure_answers_429(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_backlog=50)
    assert post(client, comments(40)).status_code == 202
    refused = post(client, comments(20, prefix="x"))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "5"
    assert refused.json()["error"]["code"] == "backpressure"
    assert post(client, comments(40)).status_code == 202  # known ids add nothing to the backlog


def test_ingest_validation(client: TestClient) -> None:
    mixed = post(client, [{"id": "ok", "text": "fine", "thread_id": "t"}, {"id": "e", "text": " ", "thread_id": "t"}])
    assert mixed.status_code == 202
    assert [i["status"] for i in mixed.json()["items"]] == ["queued", "rejected"]
    assert post(client, [{"id": "n", "text": "no thread"}]).status_code == 422
    bad_url = post(client, [{"id": "u", "text": "x", "thread_id": "t", "callback_url": "file:///etc/passwd"}])
    assert bad_url.status_code == 422
    too_many = post(client, comments(1001))
    assert too_many.status_code == 413
    assert client.get("/v1/comments/nope", headers=auth("pk-a")).status_code == 404


def _scored_queue(
    client: TestClient, redis_server: EmbeddedRedis, tmp_path: Path, n: int = 24, **extra: Any
) -> list[str]:
    """Post insulting comments, run a worker, return the ids now waiting in the review queue."""
    batch = [
        {"id": f"q{i}", "text": f"You are a stupid idiot, number {i}.", "thread_id": f"t{i % 2}", **extra}
        for i in range(n)
    ]
    assert post(client, batch).status_code == 202
    worker = start_worker(redis_server.url, name="q", burst=True, log=tmp_path / "q.log", **_hooks(extra))
    assert worker.wait(timeout=180) == 0, (tmp_path / "q.log").read_text()[-3000:]
    listing = client.get("/v1/queues/review?limit=200", headers=auth("mk-a")).json()
    return [item["id"] for item in listing["items"]]


def _hooks(extra: dict[str, Any]) -> dict[str, Any]:
    return (
        {"webhooks": {"tenant-a": {"secret": "s3cret", "allow": ["127.0.0.1"]}}, "webhook_backoff_s": "0.2"}
        if "callback_url" in extra
        else {}
    )


def test_claims_never_overlap_and_leases_expire(
    client: TestClient, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    queued = _scored_queue(client, redis_server, tmp_path)
    assert len(queued) >= 20
    mods = ["mk-a", "ak-a"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        claims = list(
            pool.map(
                lambda k: client.post(
                    "/v1/queues/review/claim", json={"count": 10, "lease_s": 2}, headers=auth(k)
                ).json(),
                mods,
            )
        )
    first, second = ({i["id"] for i in c["items"]} for c in claims)
    assert len(first) == 10 and len(second) == 10 and not first & second
    other = client.post(
        f"/v1/comments/{next(iter(first))}/decision", json={"decision": "approve"}, headers=auth("ak-a")
    )
    assert other.status_code == 409 and other.json()["error"]["code"] == "claimed_by_other"
    wait_for(lambda: not redis_client.exists(keys.claim("tenant-a", next(iter(first)))), 10, "lease expiry")
    again = client.post("/v1/queues/review/claim", json={"count": 100}, headers=auth("ak-a")).json()
    assert first <= {i["id"] for i in again["items"]}  # expired leases returned the items


def test_decisions_audit_and_webhooks(
    make_client: Callable[..., TestClient], redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    with WebhookReceiver(fail_first=2) as receiver:
        hooks = {"tenant-a": WebhookSettings(url=receiver.url, secret=SecretStr("s3cret"), allow=["127.0.0.1"])}
        client = make_client(webhooks=hooks)
        queued = _scored_queue(client, redis_server, tmp_path, n=6, callback_url=receiver.url)
        target, escalate = queued[0], queued[1]
        decided = client.post(
            f"/v1/comments/{target}/decision", json={"decision": "reject", "reason": "insult"}, headers=auth("mk-a")
        )
        assert decided.status_code == 200 and decided.json()["previous"] == "none"
        twice = client.post(f"/v1/comments/{target}/decision", json={"decision": "approve"}, headers=auth("mk-a"))
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "not_in_queue"
        assert (
            client.post(
                f"/v1/comments/{escalate}/decision", json={"decision": "escalate"}, headers=auth("mk-a")
            ).status_code
            == 200
        )
        escalated = client.get("/v1/queues/escalated", headers=auth("mk-a")).json()["items"]
        assert [i["id"] for i in escalated] == [escalate]
        state = client.get(f"/v1/comments/{target}", headers=auth("pk-a")).json()
        assert state["status"] == "decided" and state["decision"] == "reject"
        assert state["decided_by"].startswith("moderator-")
        audit = client.get(f"/v1/audit?comment_id={target}", headers=auth("mk-a")).json()["items"]
        assert audit[0]["action"] == "reject" and audit[0]["previous_status"] == "scored"
        assert json.loads(audit[0]["scores"])["toxicity"] > 0
        # a worker delivers the webhook; the receiver fails twice, the retries get through
        worker = start_worker(
            redis_server.url,
            name="hooks",
            burst=True,
            log=tmp_path / "h.log",
            webhooks={"tenant-a": {"url": receiver.url, "secret": "s3cret", "allow": ["127.0.0.1"]}},
            webhook_backoff_s="0.2",
        )
        assert worker.wait(timeout=120) == 0, (tmp_path / "h.log").read_text()[-3000:]
    bodies = [json.loads(d["body"]) for d in receiver.received]
    mine = [b for b in bodies if b["comment_id"] == target]
    assert len(mine) == 1 and mine[0]["decision"] == "reject", (
        bodies,
        receiver.calls,
        (tmp_path / "h.log").read_text()[-3000:],
    )
    assert receiver.calls >= len(receiver.received) + 2
    for delivery in receiver.received:
        headers = {k.lower(): v for k, v in delivery["headers"].items()}
        assert verify("s3cret", headers[TIMESTAMP_HEADER.lower()], delivery["body"], headers[SIGNATURE_HEADER.lower()])
        assert not verify(
            "wrong", headers[TIMESTAMP_HEADER.lower()], delivery["body"], headers[SIGNATURE_HEADER.lower()]
        )


def test_tenants_are_isolated_across_queues_audit_and_stats(
    client: TestClient, redis_server: EmbeddedRedis, tmp_path: Path
) -> None:
    article = {"id": "iso", "title": "Council votes to close the central library"}
    assert client.post("/v1/articles", json=article, headers=auth("pk-a")).status_code == 201
    queued = _scored_queue(client, redis_server, tmp_path, n=4, article_id="iso")
    assert queued
    assert (
        client.post(f"/v1/comments/{queued[0]}/decision", json={"decision": "reject"}, headers=auth("mk-a")).status_code
        == 200
    )
    stats_a = _fairness_rows(client.get("/v1/stats/fairness?article_id=iso", headers=auth("mk-a")).json())
    stats_b = _fairness_rows(client.get("/v1/stats/fairness?article_id=iso", headers=auth("mk-b")).json())
    assert sum(s["total"] for s in stats_a) == 4
    assert sum(s["total"] for s in stats_b) == 0
    assert client.get("/v1/audit", headers=auth("mk-a")).json()["items"]
    assert client.get(f"/v1/comments/{queued[0]}", headers=auth("pk-b")).status_code == 404
    assert client.get("/v1/queues/review", headers=auth("mk-b")).json()["items"] == []
    assert client.post("/v1/queues/review/claim", json={"count": 5}, headers=auth("mk-b")).json()["items"] == []
    assert (
        client.post(
            f"/v1/comments/{queued[1]}/decision", json={"decision": "approve"}, headers=auth("mk-b")
        ).status_code
        == 404
    )
    assert client.get("/v1/audit", headers=auth("mk-b")).json()["items"] == []
    assert client.get("/v1/queues/review", headers=auth("pk-a")).status_code == 403


def _fairness_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Every comment is counted once: under its confident stance label, or as unsure."""
    return [*report["stances"].values(), report["unsure"]]


def test_fairness_stats_and_label_export(
    client: TestClient, redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    article = {
        "id": "art",
        "title": "The council should close the central library",
        "body": "The council voted to close the central library next spring.",
    }
    assert client.post("/v1/articles", json=article, headers=auth("pk-a")).status_code == 201
    batch = [
        {"id": f"s{i}", "thread_id": "art", "article_id": "art", "text": t}
        for i, t in enumerate(
            [
                "Closing the library is the right call.",
                "Keeping it open is a waste, close it, you idiots.",
                "This closure is a disgrace and the council are morons.",
                "The library must stay open.",
            ]
        )
    ]
    assert post(client, batch).status_code == 202
    private = client.post(
        "/v1/analyze",
        json={"comments": [{"id": "p", "text": "private: close it you idiots"}], "store": False},
        headers=auth("pk-a"),
    )
    assert private.status_code == 200
    worker = start_worker(redis_server.url, name="s", burst=True, log=tmp_path / "s.log")
    assert worker.wait(timeout=180) == 0
    stats = _fairness_rows(client.get("/v1/stats/fairness?article_id=art", headers=auth("mk-a")).json())
    assert sum(s["total"] for s in stats) == 4
    flagged = client.get("/v1/queues/review", headers=auth("mk-a")).json()["items"]
    for item in flagged:
        client.post(f"/v1/comments/{item['id']}/decision", json={"decision": "reject"}, headers=auth("mk-a"))
    stats = _fairness_rows(client.get("/v1/stats/fairness?article_id=art", headers=auth("mk-a")).json())
    assert sum(s["moderator_rejected"] for s in stats) == len(flagged)
    out = tmp_path / "labels.csv.gz"
    import asyncio
    import gzip

    import redis.asyncio as aioredis

    from service.moderation.labels_export import export_labels

    async def run() -> int:
        r = aioredis.Redis.from_url(redis_server.url)
        try:
            return await export_labels(r, out)
        finally:
            await r.aclose()

    assert asyncio.run(run()) == len(flagged)
    with gzip.open(out, "rt") as f:
        exported = f.read()
    assert "private:" not in exported
    import csv

    with gzip.open(out, "rt") as f:
        rows = list(csv.DictReader(f))
    assert {(r["source"], r["toxic"], r["attribute"]) for r in rows} == {("moderator", "1", "toxicity")}
    assert all(r["model"].startswith("moderato-v10+") and float(r["at"]) > 0 for r in rows)
    # a reversal replaces the decision it reverses, and its reason names the attribute it speaks to
    reversed_ = client.post(
        f"/v1/comments/{flagged[0]['id']}/decision",
        json={"decision": "approve", "reason": "not an insult: quoting the council", "reverse": True},
        headers=auth("mk-a"),
    )
    assert reversed_.status_code == 200, reversed_.text
    assert asyncio.run(run()) == len(flagged)
    with gzip.open(out, "rt") as f:
        again = {r["id"]: r for r in csv.DictReader(f)}
    assert (again[flagged[0]["id"]]["source"], again[flagged[0]["id"]]["toxic"]) == ("reversal", "0")
    assert again[flagged[0]["id"]]["attribute"] == "insult"
    from service.training.data import load_moderator_labels

    (tmp_path / "toxicity").mkdir()
    out.rename(tmp_path / "toxicity" / "moderator_labels.csv.gz")
    assert len(load_moderator_labels(tmp_path)) == len(flagged)


def test_premoderated_thread_holds_everything(client: TestClient, redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    assert client.put("/v1/premoderation/hot", headers=auth("mk-a")).status_code == 200
    assert post(client, [{"id": "nice", "text": "Lovely article, thank you.", "thread_id": "hot"}]).status_code == 202
    worker = start_worker(redis_server.url, name="p", burst=True, log=tmp_path / "p.log")
    assert worker.wait(timeout=180) == 0
    state = client.get("/v1/comments/nice", headers=auth("pk-a")).json()
    assert state["status"] == "scored" and state["queue"] == "review"
    assert "premoderated thread" in state["result"]["reasons"]
    report = client.post("/v1/comments/nice/report", json={"reason": "spam"}, headers=auth("pk-a"))
    assert report.status_code == 202
    reported = client.get("/v1/queues/reported", headers=auth("mk-a")).json()["items"]
    assert [(i["id"], i["reports"], i["last_report"]) for i in reported] == [("nice", 1, "spam")]  # the reader's why


def test_inprocess_worker_of_serve_scores_queued_comments(make_client: Callable[..., TestClient]) -> None:
    client = make_client(inprocess_worker=True)
    assert post(client, comments(10, prefix="ip")).status_code == 202
    wait_for(
        lambda: all(
            client.get(f"/v1/comments/ip{i}", headers=auth("pk-a")).json()["status"] != "queued" for i in range(10)
        ),
        60,
        "in-process worker",
    )
