"""Regression tests for defects found trying the service as an attacker and an operator would (issue 14), against
the real Redis and model. Webhook targets are loopback only."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service import redis_keys as keys
from service.api.auth import KeyRing
from service.config import Settings
from service.redis_server import EmbeddedRedis
from tests.conftest import auth

JSON = {"content-type": "application/json"}


def raw_post(client: TestClient, path: str, body: bytes, key: str = "pk-a") -> Any:
    return client.post(path, content=body, headers={**auth(key), **JSON})


def test_lone_surrogate_is_that_comments_422_on_analyze(client: TestClient) -> None:
    body = b'{"comments": [{"id": "ok", "text": "Fine."}, {"id": "bad", "text": "lone \\ud800 surrogate"}]}'
    response = raw_post(client, "/v1/analyze", body)
    assert response.status_code == 200
    ok, bad = response.json()["results"]
    assert "scores" in ok and bad["error"]["code"] == "invalid_text" and bad["error"]["status"] == 422


def test_lone_surrogate_is_rejected_alone_on_ingest_and_the_rest_is_stored(
    client: TestClient, redis_client: redis.Redis
) -> None:
    body = (
        b'{"comments": [{"id": "a", "text": "first", "thread_id": "t"},'
        b' {"id": "b", "text": "lone \\udfff", "thread_id": "t"}, {"id": "c", "text": "third", "thread_id": "t"}]}'
    )
    response = raw_post(client, "/v1/comments", body)
    assert response.status_code == 202
    assert [i["status"] for i in response.json()["items"]] == ["queued", "rejected", "queued"]
    assert redis_client.exists(keys.comment("tenant-a", "a"), keys.comment("tenant-a", "c")) == 2
    assert not redis_client.exists(keys.comment("tenant-a", "b"))
    assert redis_client.xlen(keys.ingest("tenant-a")) == 2


def test_the_accept_script_writes_nothing_when_any_comment_fails(client: TestClient, redis_client: redis.Redis) -> None:
    from service.moderation.records import ACCEPT

    script = redis_client.register_script(ACCEPT)
    fine = json.dumps({"id": "x1", "text": "hi", "thread_id": "t"})
    reply = script(
        keys=[
            keys.ingest("tenant-a"),
            keys.erased("tenant-a"),
            keys.comment("tenant-a", "x1"),
            keys.comment("tenant-a", "x2"),
            keys.thread("tenant-a", "t"),
            keys.thread("tenant-a", "t"),
        ],
        args=[1000, "1.0", keys.author_comments("tenant-a", ""), fine, "{not json"],
    )
    assert [int(r) for r in reply] == [-2, 2]
    assert not redis_client.exists(keys.comment("tenant-a", "x1")) and not redis_client.exists(keys.ingest("tenant-a"))


def test_duplicate_ids_in_one_request_are_reported_per_id(client: TestClient, redis_client: redis.Redis) -> None:
    batch = [{"id": "d", "text": "one", "thread_id": "t"}, {"id": "d", "text": "two", "thread_id": "t"}]
    response = client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).json()
    assert response["accepted"] == 1 and [i["status"] for i in response["items"]] == ["queued", "duplicate"]
    assert redis_client.hget(keys.comment("tenant-a", "d"), "text") == b"one"
    again = client.post("/v1/comments", json={"comments": batch[:1]}, headers=auth("pk-a")).json()
    assert again["accepted"] == 0 and again["items"][0]["status"] == "duplicate"


@pytest.mark.parametrize("bad_id", ["a/b", "a b", "é", "x" * 257, "", "a\u0000b", "%2F", ".", ".."])
def test_ids_outside_the_alphabet_are_refused_everywhere(client: TestClient, bad_id: str) -> None:
    ingest = {"comments": [{"id": bad_id, "text": "hi", "thread_id": "t"}]}
    assert client.post("/v1/comments", json=ingest, headers=auth("pk-a")).status_code == 422
    thread = {"comments": [{"id": "fine", "text": "hi", "thread_id": bad_id}]}
    assert client.post("/v1/comments", json=thread, headers=auth("pk-a")).status_code == 422
    assert (
        client.post("/v1/analyze", json={"comments": [{"id": bad_id, "text": "hi"}]}, headers=auth("pk-a")).status_code
        == 422
    )


def test_claim_counts_and_leases_are_strict_integers(client: TestClient) -> None:
    for body in ({"lease_s": True}, {"count": True}, {"lease_s": "30"}, {"lease_s": 1.5}):
        assert client.post("/v1/queues/review/claim", json=body, headers=auth("mk-a")).status_code == 422, body
    assert client.post("/v1/queues/review/claim", json={"lease_s": 30}, headers=auth("mk-a")).status_code == 200


def test_odd_path_ids_answer_4xx_not_5xx(client: TestClient) -> None:
    for path in ("/v1/comments/a%20b", "/v1/comments/%C3%A9", "/v1/comments/" + "x" * 300):
        assert client.get(path, headers=auth("pk-a")).status_code in (404, 422)


@pytest.mark.parametrize("cursor", ["nan:x", "inf:x", "-inf:a", "1e999:a", "abc", "1:", ":a", "1.5:a/b", "1:a:b c"])
def test_queue_cursors_are_parsed_strictly(client: TestClient, cursor: str) -> None:
    response = client.get("/v1/queues/review", params={"cursor": cursor}, headers=auth("mk-a"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("cursor", ["nan", "abc", "1-", "-1", "1-2-3"])
def test_audit_cursors_are_parsed_strictly(client: TestClient, cursor: str) -> None:
    response = client.get("/v1/audit", params={"cursor": cursor}, headers=auth("mk-a"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://localhost/hook",
        "http://[::1]:8000/x",
        "http://user:pw@127.0.0.1/",
        "http://0.0.0.0/",
        "http://169.254.169.254/latest/meta-data/",
    ],
)
def test_internal_callback_urls_are_refused_at_accept(client: TestClient, redis_client: redis.Redis, url: str) -> None:
    batch = [{"id": "cb", "text": "hello", "thread_id": "t", "callback_url": url}]
    item = client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).json()["items"][0]
    assert item["status"] == "rejected" and "refused" in item["error"]
    assert not redis_client.exists(keys.comment("tenant-a", "cb"))


def test_chunked_oversize_bodies_answer_413(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=1000)

    def chunks() -> Any:
        yield b'{"comments": [{"id": "c", "text": "'
        for _ in range(10):
            yield b"x" * 500
        yield b'"}]}'

    response = client.post("/v1/analyze", content=chunks(), headers={**auth("pk-a"), **JSON})
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


@pytest.mark.parametrize("body", [b"\xff\xfe{}", b'{"comments": "\xc3"}', b"[" * 100_000 + b"]" * 100_000])
def test_undecodable_bodies_are_malformed_json(client: TestClient, body: bytes) -> None:
    response = raw_post(client, "/v1/analyze", body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_json"


@pytest.mark.parametrize(
    "text", ["\u200b", "\u200b\u200c\u200d\ufeff", " \u2060 \u00a0", "\u202e\u202c", "\u3164\u2800"]
)
def test_invisible_only_text_is_empty(client: TestClient, text: str) -> None:
    (result,) = client.post("/v1/analyze", json={"comments": [{"id": "z", "text": text}]}, headers=auth("pk-a")).json()[
        "results"
    ]
    assert result["error"]["code"] == "empty_text"


@pytest.mark.parametrize(
    "payload",
    [
        {"comments": [{"id": "c", "text": "hi"}], "stor": False},
        {"comments": [{"id": "c", "text": "hi", "extra": 1}]},
        {"comments": [{"id": "c", "text": "hi"}], "store": "yes"},
        {"comments": [{"id": "c", "text": "hi"}], "store": 1},
    ],
)
def test_unknown_fields_and_loose_booleans_are_refused(client: TestClient, payload: dict[str, Any]) -> None:
    assert client.post("/v1/analyze", json=payload, headers=auth("pk-a")).status_code == 422


def test_key_names_are_unique_and_unnamed_keys_reveal_nothing() -> None:
    with pytest.raises(ValueError, match="same name|have the name"):
        KeyRing.parse("k1=t:moderator:ann,k2=t:moderator:ann")
    with pytest.raises(ValueError):
        KeyRing.parse("k1=t:moderator,k1=t:platform")
    ring = KeyRing.parse("secret-one=t:moderator,secret-two=t:moderator,k3=u:moderator")
    names = [ring.lookup(k).name for k in ("secret-one", "secret-two", "k3")]  # type: ignore[union-attr]
    assert names == ["moderator-1", "moderator-2", "moderator-1"]


def test_metrics_need_the_token_or_an_admin_key_when_configured(make_client: Callable[..., TestClient]) -> None:
    client = make_client(metrics_token=SecretStr("scrape-me"))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=auth("mk-a")).status_code == 403
    assert client.get("/metrics", headers=auth("ak-a")).status_code == 200
    assert "moderato_request_seconds" in client.get("/metrics", headers=auth("scrape-me")).text


REDIS_ROUTES = [
    ("get", "/v1/comments/x", "pk-a", None),
    ("get", "/v1/queues/review", "mk-a", None),
    ("post", "/v1/queues/review/claim", "mk-a", {}),
    ("post", "/v1/comments/x/decision", "mk-a", {"decision": "approve"}),
    ("get", "/v1/audit", "mk-a", None),
    ("post", "/v1/comments", "pk-a", {"comments": [{"id": "r", "text": "hi", "thread_id": "t"}]}),
    ("get", "/v1/stats/fairness?article_id=a", "mk-a", None),
    ("put", "/v1/premoderation/t", "mk-a", None),
    ("post", "/v1/articles", "pk-a", {"id": "a1", "title": "Council votes to close the central library"}),
]


def _own_redis_client(settings: Settings, runner: Any, tmp_path: Path, **overrides: Any) -> tuple[Any, EmbeddedRedis]:
    from service.api.app import create_app

    server = EmbeddedRedis(tmp_path / "r").start()
    app = create_app(settings.model_copy(update={"redis_url": server.url, **overrides}), runner=runner)
    return TestClient(app), server


def _assert_503s(client: TestClient, bound_s: float) -> None:
    for method, path, key, body in REDIS_ROUTES:
        started = time.monotonic()
        response = getattr(client, method)(path, headers=auth(key), **({"json": body} if body is not None else {}))
        took = time.monotonic() - started
        assert response.status_code == 503, (path, response.status_code, response.text)
        assert response.json()["error"]["code"] == "redis_unavailable" and response.headers["retry-after"]
        assert took < bound_s, (path, took)


@pytest.mark.slow
def test_redis_killed_answers_503_with_retry_after(settings: Settings, runner: Any, tmp_path: Path) -> None:
    client, server = _own_redis_client(settings, runner, tmp_path, health_redis_grace_s=0.5)
    try:
        with client:
            server.kill()
            _assert_503s(client, bound_s=3.0)
            time.sleep(0.6)
            assert client.get("/healthz").status_code == 503  # not green while nothing can be served
            server.start()
            assert client.get("/v1/queues/review", headers=auth("mk-a")).status_code == 200
            assert client.get("/healthz").status_code == 200
    finally:
        server.stop()


@pytest.mark.slow
def test_redis_hung_answers_503_within_the_socket_timeout(settings: Settings, runner: Any, tmp_path: Path) -> None:
    client, server = _own_redis_client(settings, runner, tmp_path, redis_socket_timeout_s=1.0, redis_fail_fast_s=1.0)
    assert server.process is not None
    try:
        with client:
            os.kill(server.process.pid, signal.SIGSTOP)
            try:
                _assert_503s(client, bound_s=2.5)
                # scoring needs no Redis: an answer, within the bound, also for an article it cannot look up
                for comment in ({"id": "c", "text": "hi"}, {"id": "d", "text": "hi there", "article_id": "unknown"}):
                    started = time.monotonic()
                    scored = client.post("/v1/analyze", json={"comments": [comment]}, headers=auth("pk-a"))
                    assert scored.status_code == 200 and time.monotonic() - started < 2.5, scored.text
                time.sleep(1.5)  # past the fail-fast window (1 s here): the next request tries Redis again, once
                _assert_503s(client, bound_s=2.5)
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
    finally:
        server.stop()


@pytest.mark.slow
def test_a_second_server_on_the_same_data_folder_is_refused_and_harms_nothing(tmp_path: Path) -> None:
    import subprocess
    import sys

    from service.redis_server import FolderInUse

    first = EmbeddedRedis(tmp_path / "redis").start()
    try:
        client = redis.Redis.from_url(first.url)
        client.set("kept", "1")
        with pytest.raises(FolderInUse, match="pid"):
            EmbeddedRedis(tmp_path / "redis").start()
        # `moderato serve` on the same data folder: a clear refusal, not a second server on the same append-only file
        env = {"MODERATO_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
        serve = subprocess.run([sys.executable, "-m", "service.cli", "serve", "--port", "0"], env=env,
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert serve.returncode != 0 and "already run by another process" in serve.stderr
        assert first.socket.exists() and client.get("kept") == b"1"  # its socket was left alone
        client.close()
    finally:
        first.stop()
    EmbeddedRedis(tmp_path / "redis").start().stop()  # once the owner stops, the folder is free


def test_the_embedded_redis_is_restarted_when_it_dies(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "sup", supervise=True).start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("kept", "1")
        assert server.process is not None
        first = server.process.pid
        server.process.kill()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if client.get("kept") == b"1":
                    break
            except redis.ConnectionError:
                time.sleep(0.2)
        assert server.process.pid != first and client.get("kept") == b"1"  # restarted, and nothing lost
        client.close()
    finally:
        server.stop()


def test_webhook_jobs_with_invalid_urls_die_and_do_not_block_other_tenants(redis_server: EmbeddedRedis) -> None:
    import redis.asyncio as aioredis

    from service.moderation.targets import AllowList
    from service.moderation.webhooks import WebhookSender
    from tests.utils.processes import WebhookReceiver

    async def scenario(url: str) -> tuple[int, int, int]:
        r = aioredis.Redis.from_url(redis_server.url)
        await r.flushall()
        now = time.time()
        for tenant, job, target in (("bad", "j1", "http://exa mple.com/\x00"), ("good", "j2", url)):
            await r.hset(keys.webhook_job(tenant, job), mapping={"url": target, "body": "{}", "attempts": 0})
            await r.zadd(keys.webhook_due(tenant), {job: now})
        sender = WebhookSender(
            r,
            secret_for=lambda t: "s",
            max_attempts=2,
            backoff_base_s=0.01,
            allow_for=lambda t: AllowList.parse(["127.0.0.1"]),
        )
        for _ in range(3):
            for tenant in ("bad", "good"):
                await sender.run_due(tenant)
            await asyncio.sleep(0.05)
        dead = await r.xlen(keys.webhook_dead("bad"))
        left = await r.zcard(keys.webhook_due("bad"))
        await sender.aclose()
        await r.aclose()
        return dead, left, sender.delivered

    with WebhookReceiver() as receiver:
        dead, left, delivered = asyncio.run(scenario(receiver.url))
    assert (dead, left, delivered) == (1, 0, 1) and len(receiver.received) == 1


def test_a_slow_receiver_does_not_hold_back_another_tenant(redis_server: EmbeddedRedis) -> None:
    import redis.asyncio as aioredis

    from service.moderation.targets import AllowList
    from service.moderation.webhooks import WebhookLoop, WebhookSender
    from tests.utils.processes import WebhookReceiver

    async def scenario(slow_url: str, fast_url: str, fast: WebhookReceiver) -> float:
        r = aioredis.Redis.from_url(redis_server.url)
        await r.flushall()
        now = time.time()
        for i in range(40):
            await r.hset(keys.webhook_job("slow", f"s{i}"), mapping={"url": slow_url, "body": "{}", "attempts": 0})
            await r.zadd(keys.webhook_due("slow"), {f"s{i}": now})
        sender = WebhookSender(
            r, secret_for=lambda t: "s", max_attempts=3, allow_for=lambda t: AllowList.parse(["127.0.0.1"])
        )
        loop = WebhookLoop(sender, tenants=lambda: ["slow", "fast"], every_s=0.05)
        task = asyncio.create_task(loop.run())
        await asyncio.sleep(0.3)  # the slow tenant's deliveries are under way
        started = time.monotonic()
        await r.hset(keys.webhook_job("fast", "f1"), mapping={"url": fast_url, "body": "{}", "attempts": 0})
        await r.zadd(keys.webhook_due("fast"), {"f1": time.time()})
        while not fast.received and time.monotonic() - started < 10:
            await asyncio.sleep(0.02)
        waited = time.monotonic() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.aclose()
        await r.aclose()
        return waited

    with WebhookReceiver(delay_s=2.0) as slow, WebhookReceiver() as fast:
        waited = asyncio.run(scenario(slow.url, fast.url, fast))
    assert fast.received and waited < 1.0, waited


def test_rate_limits_per_key_with_headers_and_429(make_client: Callable[..., TestClient]) -> None:
    client = make_client(rate_limits={"tenant-a": "3/minute"})
    body = {"comments": [{"id": "c", "text": "hello"}]}
    answers = [client.post("/v1/analyze", json=body, headers=auth("pk-a")) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers[:3]] == ["2", "1", "0"]
    assert answers[0].headers["ratelimit-limit"] == "3"
    limited = answers[3]
    assert limited.json()["error"]["code"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    # another key of the same tenant has its own budget; another tenant has no limit
    assert client.get("/v1/queues/review", headers=auth("mk-a")).status_code == 200
    assert "ratelimit-limit" not in client.post("/v1/analyze", json=body, headers=auth("pk-b")).headers
