"""Fault tests, each counting what was acknowledged against what came out: Redis stopped and restarted mid-burst,
`moderato serve` SIGKILLed mid-burst, a receiver that hangs, and a model that fails on one input. Loopback only."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from fastapi.testclient import TestClient

from service import redis_keys as keys
from service.config import Settings
from service.redis_server import EmbeddedRedis
from service.scoring.scorer import CommentJob
from tests.conftest import auth
from tests.utils.processes import WebhookReceiver, free_port, start_serve, start_worker, wait_for

pytestmark = pytest.mark.slow

TEXTS = [
    "Great point about the budget, thanks.",
    "You are a complete idiot and a liar.",
    "I disagree, the library should stay open.",
    "What time is the council meeting?",
]


def burst(n: int, prefix: str, **extra: Any) -> list[dict[str, Any]]:
    return [
        {"id": f"{prefix}{i}", "text": f"{TEXTS[i % len(TEXTS)]} ({i})", "thread_id": f"t{i % 5}", **extra}
        for i in range(n)
    ]


def statuses(r: redis.Redis, tenant: str, ids: list[str]) -> Counter[str]:
    pipe = r.pipeline()
    for cid in ids:
        pipe.hget(keys.comment(tenant, cid), "status")
    return Counter((s or b"missing").decode() for s in pipe.execute())


def model_audit(r: redis.Redis, tenant: str) -> Counter[str]:
    """Audit entries the model wrote, per comment."""
    return Counter(e[b"comment_id"].decode() for _, e in r.xrange(keys.audit(tenant)) if e[b"actor"] == b"model")


def test_redis_stopped_and_restarted_during_a_burst(settings: Settings, runner: Any, tmp_path: Path) -> None:
    from service.api.app import create_app

    server = EmbeddedRedis(tmp_path / "r").start()
    worker = start_worker(server.url, name="w", log=tmp_path / "w.log", claim_idle_ms=1000)
    acknowledged: list[str] = []
    refusals: list[tuple[int, str]] = []
    try:
        app = create_app(settings.model_copy(update={"redis_url": server.url}), runner=runner)
        with TestClient(app) as client:
            batches = [burst(100, f"b{j}-") for j in range(20)]
            for j, batch in enumerate(batches):
                if j == 8:
                    server.kill()  # a crash mid-burst: no clean shutdown
                while True:
                    answer = client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a"))
                    if answer.status_code == 202:
                        acknowledged += [i["id"] for i in answer.json()["items"] if i["status"] == "queued"]
                        break
                    refusals.append((answer.status_code, answer.headers.get("retry-after", "")))
                    if len(refusals) == 3:
                        server.start()  # Redis back (it reloads its append-only file)
                    time.sleep(0.2)
        assert refusals and all(status == 503 and retry for status, retry in refusals), refusals
        assert len(acknowledged) == 2000  # every batch got in once Redis was back: the client's retries
        r = redis.Redis.from_url(server.url)

        def done() -> bool:
            return statuses(r, "tenant-a", acknowledged)["queued"] == 0

        wait_for(done, 240, "the worker to score everything after the restart")
        counts = statuses(r, "tenant-a", acknowledged)
        assert counts["scored"] + counts["decided"] == 2000 and counts["missing"] == 0, counts
        audit = model_audit(r, "tenant-a")
        assert set(audit.values()) <= {1} and len(audit) == counts["decided"]  # each decided once
        r.close()
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        server.stop()


def _serve(redis_url: str, port: int, log: Path, hook_url: str) -> subprocess.Popen[bytes]:
    webhooks = {"tenant-a": {"url": hook_url, "secret": "s", "allow": ["127.0.0.1"]}}
    return start_serve(redis_url, port, log, claim_idle_ms="1500", webhooks=webhooks, webhook_backoff_s="0.2")


def test_serve_killed_mid_burst_decides_every_comment_once(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "r").start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    headers = auth("pk-a")

    def up() -> bool:
        try:
            return requests.get(f"{url}/readyz", timeout=1).status_code == 200
        except requests.RequestException:  # refused while it starts, or too busy to answer within the second
            return False

    with WebhookReceiver() as receiver:
        serve = _serve(server.url, port, tmp_path / "serve.log", receiver.url)
        try:
            wait_for(up, 120, "moderato serve")
            article = {"id": "art", "title": "Council votes to close the central library"}
            assert requests.post(f"{url}/v1/articles", json=article, headers=headers, timeout=10).status_code == 201
            ids: list[str] = []
            for j in range(4):
                batch = burst(500, f"s{j}-", article_id="art")
                answer = requests.post(f"{url}/v1/comments", json={"comments": batch}, headers=headers, timeout=30)
                assert answer.status_code == 202 and answer.json()["accepted"] == 500
                ids += [c["id"] for c in batch]
            r = redis.Redis.from_url(server.url)
            wait_for(lambda: 200 <= 2000 - statuses(r, "tenant-a", ids)["queued"] < 1800, 240, "scoring under way")
            serve.send_signal(signal.SIGKILL)  # mid-burst, mid-batch, mid-delivery perhaps
            serve.wait()
            serve = _serve(server.url, port, tmp_path / "serve.log", receiver.url)
            wait_for(up, 120, "moderato serve, restarted")
            wait_for(lambda: statuses(r, "tenant-a", ids)["queued"] == 0, 300, "every comment scored")
            counts = statuses(r, "tenant-a", ids)
            decided = counts["decided"]
            wait_for(lambda: r.zcard(keys.webhook_due("tenant-a")) == 0, 60, "webhook deliveries")
        finally:
            serve.send_signal(signal.SIGTERM)
            serve.wait(timeout=60)
    assert counts["scored"] + decided == 2000 and counts["failed"] == 0, counts
    audit = model_audit(r, "tenant-a")
    assert len(audit) == decided and set(audit.values()) == {1}  # one audit entry per decided comment
    delivered = Counter(json.loads(d["body"])["comment_id"] for d in receiver.received)
    assert set(delivered) == set(audit)  # every decided comment reached the platform
    # at-least-once: a delivery cut off by the kill may come again, with the same delivery id (receivers dedupe)
    ids_by_comment: dict[str, set[str]] = {}
    for d in receiver.received:
        headers = {k.lower(): v for k, v in d["headers"].items()}
        ids_by_comment.setdefault(json.loads(d["body"])["comment_id"], set()).add(headers["x-moderato-delivery"])
    assert all(len(v) == 1 for v in ids_by_comment.values())  # one delivery (id) per decided comment
    repeats = {c: n for c, n in delivered.items() if n > 1}
    assert len(repeats) <= 50, repeats
    fairness = {k.decode(): int(v) for k, v in r.hgetall(keys.fairness("tenant-a", "art")).items()}
    assert sum(v for k, v in fairness.items() if k.endswith(":total")) == 2000, fairness  # each comment counted once
    r.close()
    server.stop()


def test_a_receiver_that_hangs_costs_attempts_then_a_dead_letter(redis_server: EmbeddedRedis) -> None:
    import redis.asyncio as aioredis

    from service.moderation.targets import AllowList
    from service.moderation.webhooks import WebhookSender

    async def scenario(url: str) -> tuple[int, list[bytes]]:
        r = aioredis.Redis.from_url(redis_server.url)
        await r.flushall()
        await r.hset(keys.webhook_job("t", "j"), mapping={"url": url, "body": "{}", "attempts": 0})
        await r.zadd(keys.webhook_due("t"), {"j": time.time()})
        sender = WebhookSender(
            r,
            secret_for=lambda t: "s",
            max_attempts=2,
            backoff_base_s=0.1,
            allow_for=lambda t: AllowList.parse(["127.0.0.1"]),
        )
        import httpx

        sender.client = httpx.AsyncClient(timeout=0.5)  # the hang shows in half a second instead of five
        deadline = time.monotonic() + 10
        while await r.zcard(keys.webhook_due("t")) and time.monotonic() < deadline:
            await sender.run_due("t")
            await asyncio.sleep(0.15)
        dead = [e[b"error"] for _, e in await r.xrange(keys.webhook_dead("t"))]
        attempts = sender.failed
        await sender.aclose()
        await r.aclose()
        return attempts, dead

    with WebhookReceiver(delay_s=5.0) as hung:
        attempts, dead = asyncio.run(scenario(hung.url))
    assert attempts == 2 and dead == [b"timed out"]


class PoisonedRunner:
    """The real model, failing on one input (fault injection: the rest of each batch must still be scored)."""

    def __init__(self, runner: Any) -> None:
        self.inner = runner
        self.version = runner.version
        self.cache_version = runner.cache_version
        self.state_to_bytes = runner.state_to_bytes
        self.state_from_bytes = runner.state_from_bytes

    def run(self, jobs: list[Any]) -> Any:
        if any(isinstance(j, CommentJob) and "poison" in j.text for j in jobs):
            raise ValueError("tensor shape mismatch")
        return self.inner.run(jobs)


def test_a_model_error_on_one_input_dead_letters_that_comment_only(
    settings: Settings, runner: Any, redis_client: redis.Redis
) -> None:
    from service.api.app import create_app

    app = create_app(settings.model_copy(update={"inprocess_worker": True}), runner=PoisonedRunner(runner))
    with TestClient(app) as client:
        body = {
            "comments": [{"id": "a", "text": "fine"}, {"id": "p", "text": "poison pill"}, {"id": "b", "text": "ok"}]
        }
        a, p, b = client.post("/v1/analyze", json=body, headers=auth("pk-a")).json()["results"]
        assert "scores" in a and "scores" in b and p["error"]["code"] == "model_error"
        batch = burst(30, "m") + [{"id": "mp", "text": "a poison comment", "thread_id": "t"}]
        assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
        ids = [c["id"] for c in batch]
        wait_for(lambda: statuses(redis_client, "tenant-a", ids)["queued"] == 0, 60, "the batch")
        counts = statuses(redis_client, "tenant-a", ids)
        assert counts["failed"] == 1 and counts["scored"] + counts["decided"] == 30, counts
        (dead,) = client.get("/v1/deadletter", headers=auth("ak-a")).json()["items"]
        assert dead["comment_id"] == "mp" and "model_error" in dead["error"]
        assert client.get("/v1/comments/mp", headers=auth("pk-a")).json()["status"] == "failed"


class GatedPoisonRunner(PoisonedRunner):
    """Fails on the poisoned input only once the test opens the gate, so the test can act while it is scored."""

    def __init__(self, runner: Any) -> None:
        super().__init__(runner)
        import threading

        self.entered, self.gate = threading.Event(), threading.Event()

    def run(self, jobs: list[Any]) -> Any:
        if any(isinstance(j, CommentJob) and "poison" in j.text for j in jobs):
            self.entered.set()
            self.gate.wait(30)
        return super().run(jobs)


def test_a_comment_erased_while_it_fails_is_not_brought_back_by_the_dead_letter(
    settings: Settings, runner: Any, redis_client: redis.Redis
) -> None:
    """DELETE /v1/comments/{id} while the model is failing on that comment: the dead letter records the id, but the
    comment's hash stays gone (it used to come back holding `status: failed` and the error, and nothing else)."""
    from service.api.app import create_app

    gated = GatedPoisonRunner(runner)
    app = create_app(settings.model_copy(update={"inprocess_worker": True}), runner=gated)
    with TestClient(app) as client:
        body = {"comments": [{"id": "gp", "text": "a poison comment to erase", "thread_id": "t"}]}
        assert client.post("/v1/comments", json=body, headers=auth("pk-a")).status_code == 202
        assert gated.entered.wait(60), "the worker never scored the comment"
        assert client.delete("/v1/comments/gp", headers=auth("pk-a")).status_code == 204
        gated.gate.set()
        wait_for(lambda: redis_client.xlen(keys.dead_letter("tenant-a")) >= 1, 60, "the dead letter")
        assert not redis_client.exists(keys.comment("tenant-a", "gp"))
        assert client.get("/v1/comments/gp", headers=auth("pk-a")).status_code == 404
