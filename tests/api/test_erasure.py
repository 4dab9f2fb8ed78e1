"""Erasure: a comment the platform deletes, and an author who asks to be forgotten, leave no text behind: not in
Redis, not in the search index's file, not on the author's page; a retried POST does not bring a comment back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient

from service import redis_keys as keys
from tests.conftest import auth
from tests.utils.processes import wait_for

# words that occur nowhere else, so finding them anywhere on disk or in Redis means a copy was left behind
COMMENTS = [
    ("e1", "Quxwaldian idiots like you should be banned from this paper.", "ann", "Ann Reader"),
    ("e2", "The zorbleflax budget report reads fine to me.", "ann", "Ann Reader"),
    ("e3", "Bob thinks the plinkerton vote was fair.", "bob", "Bob Smith"),
]
SECRET_WORDS = ("Quxwaldian", "zorbleflax")


def _indexed(client: TestClient) -> bool:
    found = client.get("/v1/search", params={"q": "the"}, headers=auth("mk-a")).json()
    return found["pending"] == 0 and len(client.get("/v1/search", headers=auth("mk-a")).json()["items"]) >= 1


def _on_disk(folder: Path, word: str) -> list[str]:
    """Files of the search index (the database, its WAL) that still hold the word, as written or as indexed."""
    found = []
    for path in folder.rglob("search.db*"):
        stored = path.read_bytes() if path.is_file() else b""
        if word.encode() in stored or word.lower().encode() in stored:
            found.append(path.name)
    return found


def _values(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "string":
        return [client.get(key) or b""]
    if kind == "hash":
        return [b for pair in client.hgetall(key).items() for b in pair]
    if kind == "zset":
        return list(client.zrange(key, 0, -1))
    if kind == "set":
        return list(client.smembers(key))
    if kind == "list":
        return list(client.lrange(key, 0, -1))
    if kind == "stream":
        return [b for _, fields in client.xrange(key) for pair in fields.items() for b in pair]
    return []


def _in_redis(client: redis.Redis, word: str) -> list[str]:
    """Keys whose name or any value holds the word."""
    return [
        key.decode()
        for key in client.scan_iter(count=1000)
        if any(word.encode() in v for v in (key, *_values(client, key)))
    ]


def _search(client: TestClient, **params: Any) -> list[str]:
    return [i["id"] for i in client.get("/v1/search", params=params, headers=auth("mk-a")).json()["items"]]


def test_an_erased_comment_and_author_leave_no_text_behind(
    make_client: Callable[..., TestClient], redis_client: redis.Redis, tmp_path: Path
) -> None:
    client = make_client(inprocess_worker=True)
    batch = [{"id": i, "text": t, "thread_id": "t1", "author_id": a, "author_name": n} for i, t, a, n in COMMENTS]
    assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(lambda: len(_search(client)) == 3 and _indexed(client), 90, "scored and indexed")
    assert _on_disk(tmp_path, "Quxwaldian") and _in_redis(redis_client, "Quxwaldian")  # the probes can see it

    # one comment: the platform deleted it
    assert client.delete("/v1/comments/e1", headers=auth("mk-a")).status_code == 403  # moderators do not erase
    assert client.delete("/v1/comments/e1", headers=auth("pk-b")).status_code == 404  # nor another tenant
    assert (
        client.delete("/v1/comments/e1", params={"reason": "deleted by its author"}, headers=auth("pk-a")).status_code
        == 204
    )
    assert client.delete("/v1/comments/e1", headers=auth("pk-a")).status_code == 204  # again: idempotent
    assert client.delete("/v1/comments/never", headers=auth("pk-a")).status_code == 404
    assert client.get("/v1/comments/e1", headers=auth("pk-a")).status_code == 404
    queued = client.get("/v1/queues/review", headers=auth("mk-a")).json()
    assert "e1" not in [i["id"] for i in queued["items"]]
    again = client.post("/v1/comments", json={"comments": batch[:1]}, headers=auth("pk-a")).json()
    assert again["items"][0]["status"] == "duplicate"  # a retried POST never stores it again
    assert client.get("/v1/comments/e1", headers=auth("pk-a")).status_code == 404
    wait_for(lambda: _search(client, q="Quxwaldian") == [] and _indexed(client), 30, "removed from the index")
    assert _on_disk(tmp_path, "Quxwaldian") == [] and _in_redis(redis_client, "Quxwaldian") == []
    audit = client.get("/v1/audit", params={"comment_id": "e1", "action": "erased"}, headers=auth("mk-a")).json()
    (entry,) = audit["items"]
    assert entry["actor"] == "pk-a" or entry["actor"].startswith("platform")
    assert entry["reason"] == "deleted by its author" and entry["text"] is None

    # an author: everything of theirs
    page = client.get("/v1/authors/ann", headers=auth("mk-a")).json()
    assert [c["id"] for c in page["comments"]] == ["e2"] and page["author_name"] == "Ann Reader"
    assert client.delete("/v1/authors/ann", headers=auth("mk-a")).status_code == 403
    done = client.delete("/v1/authors/ann", headers=auth("pk-a"))
    assert done.status_code == 200 and done.json() == {"author_id": "ann", "comments_erased": 1}
    assert client.delete("/v1/authors/ann", headers=auth("pk-a")).json()["comments_erased"] == 0
    page = client.get("/v1/authors/ann", headers=auth("mk-a")).json()
    assert page["comments"] == [] and page["author_name"] is None and page["record"]["comments"] == 0
    wait_for(lambda: _search(client, author="ann") == [] and _indexed(client), 30, "the author left the index")
    for word in (*SECRET_WORDS, "Ann Reader"):
        assert _on_disk(tmp_path, word) == [] and _in_redis(redis_client, word) == [], word
    assert _search(client) == ["e3"]  # another author's comment is untouched
    entries = client.get("/v1/audit", params={"action": "author_erased"}, headers=auth("mk-a")).json()["items"]
    assert [(e["author_id"], e["comments_erased"]) for e in entries] == [("ann", "0"), ("ann", "1")]


def test_a_comment_erased_before_it_is_scored_is_never_scored(
    make_client: Callable[..., TestClient], redis_client: redis.Redis
) -> None:
    """Erased while still queued: the worker finds no record, scores nothing and stores nothing."""
    client = make_client()  # no worker yet
    body = {"comments": [{"id": "q1", "text": "Quxwaldian idiots, all of you.", "thread_id": "t9", "author_id": "zed"}]}
    assert client.post("/v1/comments", json=body, headers=auth("pk-a")).json()["accepted"] == 1
    assert client.delete("/v1/authors/zed", headers=auth("pk-a")).json()["comments_erased"] == 1  # indexed as accepted
    worker = make_client(inprocess_worker=True)
    wait_for(lambda: redis_client.xlen(keys.ingest("tenant-a")) == 0, 60, "the stream drained")
    assert worker.get("/v1/comments/q1", headers=auth("pk-a")).status_code == 404
    assert _in_redis(redis_client, "Quxwaldian") == []


def test_an_author_is_erased_from_their_index_and_older_records_join_it(
    make_client: Callable[..., TestClient], redis_client: redis.Redis
) -> None:
    """Every comment of an author is in their index from the moment it is stored, uncapped, so erasing them needs
    no scan. A record stored before the index held everything (here: written without its index entry) is found by a
    scan until a worker has indexed the tenant, and by the index after."""
    client = make_client()  # no worker: every comment stays queued
    many = [{"id": f"z{i}", "text": f"Comment number {i}.", "thread_id": "t1", "author_id": "zed"} for i in range(1005)]
    for start in range(0, len(many), 250):
        posted = client.post("/v1/comments", json={"comments": many[start : start + 250]}, headers=auth("pk-a"))
        assert posted.is_success
    assert redis_client.zcard(keys.author_comments("tenant-a", "zed")) == 1005  # queued ones too, past 1,000
    older = {"id": "old1", "text": "Before the index.", "thread_id": "t1", "author_id": "amy", "status": "queued"}
    redis_client.hset(keys.comment("tenant-a", "old1"), mapping=older | {"received_at": "1000.0"})
    redis_client.hset(keys.comment("tenant-a", "old2"), mapping=older | {"id": "old2", "received_at": "1001.0"})
    assert not redis_client.exists(keys.authors_indexed("tenant-a"))
    erased = client.delete("/v1/authors/amy", headers=auth("pk-a")).json()
    assert erased["comments_erased"] == 2 and not redis_client.exists(keys.comment("tenant-a", "old1"))  # the scan

    redis_client.hset(keys.comment("tenant-a", "old3"), mapping=older | {"id": "old3", "received_at": "1002.0"})
    make_client(inprocess_worker=True)  # indexes the tenant's older records once
    wait_for(lambda: redis_client.exists(keys.authors_indexed("tenant-a")), 30, "the tenant indexed")
    assert redis_client.zrange(keys.author_comments("tenant-a", "amy"), 0, -1, withscores=True) == [(b"old3", 1002.0)]
    assert redis_client.zcard(keys.author_comments("tenant-a", "zed")) == 1005
    assert client.delete("/v1/authors/amy", headers=auth("pk-a")).json()["comments_erased"] == 1
    assert client.delete("/v1/authors/zed", headers=auth("pk-a")).json()["comments_erased"] == 1005
    assert not redis_client.exists(keys.author_comments("tenant-a", "zed"), keys.comment("tenant-a", "z1004"))


def test_decided_comments_past_retention_are_erased_and_waiting_ones_kept(
    make_client: Callable[..., TestClient], redis_client: redis.Redis
) -> None:
    """MODERATO_RETENTION_DAYS: the workers erase decided comments once their decision is that old; a comment still
    waiting for a moderator is kept until it is decided, and so is a decided one a reader reported since. Suggested
    scores (Perspective's suggestscore) that old are erased too."""
    client = make_client(inprocess_worker=True, retention_days=5 / 86_400, retention_every_s=0.3)  # five seconds
    civil = [
        {"id": f"r{i}", "text": f"Thanks for covering the council meeting, part {i}.", "thread_id": "r"}
        for i in range(4)
    ]
    rude = {"id": "r-rude", "text": "You are a pathetic moron and a liar.", "thread_id": "r"}
    assert client.post("/v1/comments", json={"comments": [*civil, rude]}, headers=auth("pk-a")).status_code == 202
    suggested = {
        "comment": {"text": "Zorblat is a suggested label."},
        "attributeScores": {"INSULT": {"summaryScore": {"value": 0.9}}},
    }
    assert client.post("/v1alpha1/comments:suggestscore?key=pk-a", json=suggested).status_code == 200

    def state(cid: str) -> dict[str, Any]:
        answer = client.get(f"/v1/comments/{cid}", headers=auth("pk-a"))
        return answer.json() if answer.status_code == 200 else {"status": "gone"}

    wait_for(lambda: all(state(c["id"])["status"] == "decided" for c in civil), 60, "decided by the model")
    reported = client.post("/v1/comments/r3/report", json={"reason": "spam"}, headers=auth("pk-a"))
    assert reported.status_code == 202  # well inside the five seconds: it waits for a moderator again
    wait_for(lambda: all(state(f"r{i}")["status"] == "gone" for i in range(3)), 90, "erased after retention")
    time.sleep(1.0)  # several more passes
    assert state("r3")["status"] == "decided" and state("r-rude")["status"] == "scored"  # both wait: kept
    audit = client.get("/v1/audit", params={"action": "erased"}, headers=auth("mk-a")).json()["items"]
    assert {e["comment_id"] for e in audit} == {"r0", "r1", "r2"} and {e["actor"] for e in audit} == {"retention"}
    assert "MODERATO_RETENTION_DAYS" in audit[0]["reason"]
    assert all(redis_client.zscore(keys.erased("tenant-a"), f"r{i}") for i in range(3))
    assert redis_client.xlen(keys.suggested_scores("tenant-a")) == 0  # suggested scores past retention go too
    assert _in_redis(redis_client, "Zorblat") == []
    # once a moderator has seen it, the reported one goes at the next pass
    decided = client.post("/v1/comments/r3/decision", json={"decision": "approve"}, headers=auth("mk-a"))
    assert decided.status_code == 200
    wait_for(lambda: state("r3")["status"] == "gone", 30, "the reported one erased once decided")
