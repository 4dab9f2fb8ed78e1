"""One vocabulary: a decision by the model and one by a moderator leave the service in one shape (webhook body,
audit entry), and workers are visible where operators look (`moderato worker --check`, /readyz, /metrics)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service import redis_keys as keys
from service.config import PolicySettings, WebhookSettings
from service.redis_server import EmbeddedRedis
from tests.conftest import auth
from tests.utils.processes import ROOT, WebhookReceiver, wait_for

pytestmark = pytest.mark.slow

WEBHOOK_FIELDS = {"comment_id", "thread_id", "decision", "decided_by", "reasons", "scores", "at"}
AUDIT_FIELDS = {
    *("id", "comment_id", "actor", "action", "reason", "previous_status", "previous_decision", "scores", "at"),
    *("author_id", "until"),  # null on a decision about a comment; set on an action on an author
    *("account", "policy_version"),  # set on an action on a moderator account, a saved policy
    "model_version",  # set on a move of the site's learned model (promote, roll back, shadow)
    "text",  # the comment's words as stored now
    "comments_erased",  # set on an author's erasure: how many of their comments that call erased
}


def _status(client: TestClient, cid: str) -> dict[str, Any]:
    return client.get(f"/v1/comments/{cid}", headers=auth("pk-a")).json()  # type: ignore[no-any-return]


def test_model_and_moderator_decisions_share_one_shape(make_client: Callable[..., TestClient]) -> None:
    with WebhookReceiver() as receiver:
        hooks = {"tenant-a": WebhookSettings(url=receiver.url, secret=SecretStr("s"), allow=["127.0.0.1"])}
        client = make_client(inprocess_worker=True, webhooks=hooks)
        batch = [
            {"id": "kind", "text": "Thanks for the clear report on the budget.", "thread_id": "t"},
            {"id": "rude", "text": "You are a complete idiot and a liar.", "thread_id": "t"},
        ]
        assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
        wait_for(lambda: all(_status(client, c["id"])["status"] != "queued" for c in batch), 60, "scoring")
        assert _status(client, "kind")["decision"] == "allow" and _status(client, "rude")["queue"] == "review"
        decided = client.post(
            "/v1/comments/rude/decision", json={"decision": "reject", "reason": "insult"}, headers=auth("mk-a")
        )
        assert decided.status_code == 200
        wait_for(lambda: len(receiver.received) == 2, 30, "both webhooks")
    bodies = {b["comment_id"]: b for b in (json.loads(d["body"]) for d in receiver.received)}
    model, moderator = bodies["kind"], bodies["rude"]
    assert set(model) == set(moderator) == WEBHOOK_FIELDS
    assert (model["decided_by"], model["decision"]) == ("model", "allow")
    assert moderator["decision"] == "reject" and moderator["reasons"] == ["insult"]
    assert moderator["scores"]["insult"] > 0.5 and set(model["scores"]) == set(moderator["scores"])
    audit = {e["comment_id"]: e for e in client.get("/v1/audit", headers=auth("mk-a")).json()["items"]}
    assert set(audit["kind"]) == set(audit["rude"]) == AUDIT_FIELDS
    assert set(json.loads(audit["kind"]["scores"])) == set(json.loads(audit["rude"]["scores"])) == set(model["scores"])
    assert audit["rude"]["reason"] == "insult" and audit["rude"]["previous_status"] == "scored"


def _check(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATO_")}
    env["MODERATO_REDIS_URL"] = redis_url
    cmd = [sys.executable, "-m", "service.cli", "worker", "--check", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_worker_health_is_read_by_the_probe_readyz_and_metrics(
    make_client: Callable[..., TestClient], redis_server: EmbeddedRedis, redis_client: redis.Redis
) -> None:
    assert _check(redis_server.url).returncode == 1  # no worker yet
    client = make_client(inprocess_worker=True)
    wait_for(lambda: bool(client.get("/readyz").json()["workers"]), 20, "the worker's first health beat")
    (worker,) = client.get("/readyz").json()["workers"]
    assert worker["scored"] == 0 and "taken_over" in worker
    assert f'moderato_worker_events{{counter="scored",worker="{worker["name"]}"}}' in client.get("/metrics").text
    probe = _check(redis_server.url)  # the in-process worker runs on this host
    assert probe.returncode == 0 and json.loads(probe.stdout.splitlines()[0])["name"] == worker["name"]
    assert _check(redis_server.url, "--name", "someone-else").returncode == 1
    assert redis_client.ttl(keys.worker_health(worker["name"])) <= keys.WORKER_HEALTH_TTL_S


def test_readyz_names_workers_only_to_callers_who_may_read_metrics(make_client: Callable[..., TestClient]) -> None:
    from pydantic import SecretStr

    client = make_client(inprocess_worker=True, metrics_token=SecretStr("scrape-me"))
    wait_for(lambda: client.get("/readyz").json()["workers_live"] == 1, 20, "the worker's first health beat")
    assert client.get("/readyz").json()["workers"] == []  # counted, not named: host names are not public
    for credential in ("scrape-me", "ak-a"):
        (worker,) = client.get("/readyz", headers=auth(credential)).json()["workers"]
        assert worker["name"]
    assert client.get("/readyz", headers=auth("pk-a")).json()["workers"] == []


def test_fairness_counts_each_comment_once_by_its_latest_state(make_client: Callable[..., TestClient]) -> None:
    client = make_client(inprocess_worker=True)
    article = {"id": "fair", "title": "Council votes to close the central library"}
    assert client.post("/v1/articles", json=article, headers=auth("pk-a")).status_code == 201
    batch = [{"id": "f1", "text": "You are a complete idiot and a liar.", "thread_id": "t", "article_id": "fair"}]
    assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(lambda: _status(client, "f1")["status"] == "scored", 60, "scoring")

    def decide(action: str) -> None:
        response = client.post("/v1/comments/f1/decision", json={"decision": action}, headers=auth("mk-a"))
        assert response.status_code == 200, response.text

    def rejected() -> int:
        report = client.get("/v1/stats/fairness?article_id=fair", headers=auth("mk-a")).json()
        stances = [*report["stances"].values(), report["unsure"]]  # confident labels, and the unsure ones apart
        assert sum(s["total"] for s in stances) == 1
        return sum(s["moderator_rejected"] for s in stances)

    decide("reject")
    for _ in range(3):  # report -> reject, three times: still one rejected comment
        assert client.post("/v1/comments/f1/report", json={"reason": "again"}, headers=auth("pk-a")).status_code == 202
        decide("reject")
    assert rejected() == 1
    assert client.post("/v1/comments/f1/report", json={}, headers=auth("pk-a")).status_code == 202
    decide("approve")  # its latest state: approved
    assert rejected() == 0


def test_a_model_rejection_a_moderator_upholds_is_one_rejection_in_one_column(
    make_client: Callable[..., TestClient],
) -> None:
    # a policy under which the model itself rejects a plain insult
    strict = PolicySettings(review={"toxicity": 0.3}, reject={"toxicity": 0.5})
    client = make_client(inprocess_worker=True, policies={"tenant-a": strict})
    article = {"id": "both", "title": "Council votes to close the central library"}
    assert client.post("/v1/articles", json=article, headers=auth("pk-a")).status_code == 201
    batch = [{"id": "m1", "text": "You are a complete idiot and a liar.", "thread_id": "t", "article_id": "both"}]
    assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(lambda: _status(client, "m1")["status"] == "decided", 60, "scoring")
    assert _status(client, "m1")["decision"] == "reject"

    def columns() -> tuple[int, int, int]:
        report = client.get("/v1/stats/fairness?article_id=both", headers=auth("mk-a")).json()
        rows = [*report["stances"].values(), report["unsure"]]
        return tuple(sum(r[c] for r in rows) for c in ("total", "model_rejected", "moderator_rejected"))  # type: ignore[return-value]

    assert columns() == (1, 1, 0)
    assert client.post("/v1/comments/m1/report", json={"reason": "abuse"}, headers=auth("pk-a")).status_code == 202
    response = client.post("/v1/comments/m1/decision", json={"decision": "reject"}, headers=auth("mk-a"))
    assert response.status_code == 200, response.text
    assert columns() == (1, 0, 1)  # the moderator's rejection supersedes the model's: counted once
    assert client.post("/v1/comments/m1/report", json={}, headers=auth("pk-a")).status_code == 202
    approve = client.post("/v1/comments/m1/decision", json={"decision": "approve"}, headers=auth("mk-a"))
    assert approve.status_code == 200
    assert columns() == (1, 0, 0)
    # /metrics counts every decision by who took it, across processes (read from Redis), and the review queues
    metrics = client.get("/metrics", headers=auth("ak-a")).text
    for actor, action in (("model", "reject"), ("moderator", "reject"), ("moderator", "approve")):
        assert f'moderato_decisions_total{{action="{action}",actor="{actor}",tenant="tenant-a"}} 1.0' in metrics
    assert 'moderato_review_queue_depth{queue="reported",tenant="tenant-a"} 0.0' in metrics


def test_a_thread_shows_who_is_piled_on(make_client: Callable[..., TestClient]) -> None:
    client = make_client(inprocess_worker=True)
    batch = [
        {"id": "root", "text": "The library should stay open, it is the heart of this town.", "thread_id": "pile"},
        {"id": "r1", "text": "Completely agree, keep it open.", "thread_id": "pile", "parent_id": "root"},
        {"id": "r2", "text": "No, you idiot, it is a waste of our money.", "thread_id": "pile", "parent_id": "root"},
        {"id": "r3", "text": "Wrong. Close it, you clueless fool.", "thread_id": "pile", "parent_id": "root"},
    ]
    assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(lambda: all(_status(client, c["id"])["status"] != "queued" for c in batch), 60, "scoring")
    thread = client.get("/v1/threads/pile", headers=auth("mk-a")).json()
    by_id = {c["id"]: c for c in thread["comments"]}
    assert [c["id"] for c in thread["comments"]] == ["root", "r1", "r2", "r3"]  # arrival order
    assert by_id["r1"]["parent_id"] == "root" and by_id["r1"]["stance_to_parent"]["label"] in (
        "agree",
        "disagree",
        "neutral",
    )
    replies = by_id["root"]["replies"]
    counted = replies["agree"] + replies["disagree"] + replies["neutral"] + replies["unsure"]
    assert replies["count"] == 3 and counted == 3
    if replies["disagree"]:
        assert replies["disagreeing_max_toxicity"] >= replies["disagreeing_mean_toxicity"] > 0
    assert client.get("/v1/threads/pile", headers=auth("pk-a")).status_code == 403
    assert client.get("/v1/threads/pile", headers=auth("mk-b")).json()["comments"] == []  # another tenant's view
