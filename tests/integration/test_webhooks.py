"""Webhook deliveries against a loopback receiver: signatures, and a sender dying mid-delivery."""

from __future__ import annotations

import asyncio
import json
import select
import time
from http.server import BaseHTTPRequestHandler

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.moderation.targets import AllowList
from service.moderation.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookLoop,
    WebhookSender,
    sign,
    verify,
)
from service.redis_server import EmbeddedRedis
from tests.utils.processes import LoopbackServer, WebhookReceiver


def LOOPBACK(tenant: str) -> AllowList:  # noqa: N802 (read as a constant where it is passed)
    return AllowList.parse(["127.0.0.1"])


def test_signature_checks_secret_body_and_age() -> None:
    body = b'{"comment_id": "c1"}'
    now = time.time()
    signature = sign("s", f"{now:.0f}", body)
    assert verify("s", f"{now:.0f}", body, signature, now=now)
    assert not verify("t", f"{now:.0f}", body, signature, now=now)
    assert not verify("s", f"{now:.0f}", body + b" ", signature, now=now)
    assert not verify("s", f"{now:.0f}", body, signature, now=now + 3600)  # a replay an hour later
    assert not verify("s", "not-a-time", body, signature, now=now)


async def _scenario(url: str, receiver: WebhookReceiver) -> None:
    redis = aioredis.Redis.from_url(url)
    await redis.flushall()
    job_key, due = keys.webhook_job("t", "c1:1"), keys.webhook_due("t")
    await redis.hset(job_key, mapping={"url": receiver.url, "body": json.dumps({"comment_id": "c1"}), "attempts": 0})
    await redis.zadd(due, {"c1:1": time.time()})
    doomed = WebhookSender(redis, secret_for=lambda t: "s", max_attempts=3, in_flight_s=0.5, allow_for=LOOPBACK)
    # the first sender takes the job and dies before delivering it
    assert await doomed._take(keys=[due], args=["c1:1", f"{time.time():.3f}", f"{time.time() + 0.5:.3f}"])
    survivor = WebhookSender(redis, secret_for=lambda t: "s", max_attempts=3, in_flight_s=0.5, allow_for=LOOPBACK)
    assert await survivor.run_due("t") == 0  # still in flight: nobody else takes it yet
    await asyncio.sleep(0.6)
    assert await survivor.run_due("t") == 1
    assert survivor.delivered == 1 and await redis.zcard(due) == 0 and not await redis.exists(job_key)
    for sender in (doomed, survivor):
        await sender.aclose()
    await redis.aclose()


def test_a_delivery_in_flight_when_its_sender_dies_is_retried(redis_server: EmbeddedRedis) -> None:
    with WebhookReceiver() as receiver:
        asyncio.run(_scenario(redis_server.url, receiver))
    (delivery,) = receiver.received
    headers = {k.lower(): v for k, v in delivery["headers"].items()}
    assert verify("s", headers[TIMESTAMP_HEADER.lower()], delivery["body"], headers[SIGNATURE_HEADER.lower()])


class DrippingReceiver(LoopbackServer):
    """A receiver that answers one byte a second, and records when each delivery of each job was open."""

    def __init__(self) -> None:
        self.open: list[tuple[str, float, float]] = []  # (delivery id, opened, closed)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                opened = time.monotonic()
                self.rfile.read(int(self.headers.get("content-length", "0")))
                try:
                    for byte in b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n":
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        # a second between bytes, unless the sender hangs up first (its end is readable then)
                        if select.select([self.connection], [], [], 1.0)[0] and not self.connection.recv(1):
                            break
                except OSError:
                    pass  # the sender gave up and closed the connection
                receiver.open.append((self.headers.get(DELIVERY_HEADER, ""), opened, time.monotonic()))
                self.close_connection = True

            def log_message(self, *args: object) -> None:
                pass

        self._serve(Handler)


async def _one_slow_one_fast(url: str, slow: str, fast: str) -> tuple[float, float, list[bytes]]:
    redis = aioredis.Redis.from_url(url)
    await redis.flushall()
    jobs = {f"slow{i}": slow for i in range(4)} | {f"fast{i}": fast for i in range(6)}
    for job, target in jobs.items():
        await redis.hset(keys.webhook_job("t", job), mapping={"url": target, "body": "{}", "attempts": 0})
        # the slow receiver's jobs first: before, their round held the fast ones back
        await redis.zadd(keys.webhook_due("t"), {job: time.time() - (10 if job.startswith("slow") else 0)})
    sender = WebhookSender(redis, secret_for=lambda t: "s", max_attempts=2, backoff_base_s=0.1, in_flight_s=3.0,
                           delivery_timeout_s=1.5, allow_for=LOOPBACK)  # fmt: skip
    loop = WebhookLoop(sender, tenants=lambda: ["t"], every_s=0.05)
    started = time.monotonic()
    task = asyncio.create_task(loop.run())
    while sender.delivered < 6 and time.monotonic() - started < 20:
        await asyncio.sleep(0.02)
    fast_done = time.monotonic() - started
    while await redis.zcard(keys.webhook_due("t")) and time.monotonic() - started < 30:
        await asyncio.sleep(0.05)
    all_done = time.monotonic() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    dead = [e[b"job"] for _, e in await redis.xrange(keys.webhook_dead("t"))]
    await sender.aclose()
    await redis.aclose()
    return fast_done, all_done, dead


def test_a_dripping_receiver_holds_back_only_itself_and_never_gets_one_job_twice_at_once(
    redis_server: EmbeddedRedis,
) -> None:
    with WebhookReceiver() as fast, DrippingReceiver() as slow:
        fast_done, all_done, dead = asyncio.run(_one_slow_one_fast(redis_server.url, slow.url, fast.url))
    assert len(fast.received) == 6 and fast_done < 1.0, fast_done  # not behind the slow receiver's deliveries
    assert sorted(dead) == [f"slow{i}".encode() for i in range(4)]  # each timed out twice, then dead-lettered
    assert all(closed - opened < 3.0 for _, opened, closed in slow.open)  # bounded in total, not per byte
    by_job: dict[str, list[tuple[float, float]]] = {}
    for job, opened, closed in slow.open:
        by_job.setdefault(job, []).append((opened, closed))
    for spans in by_job.values():  # a retry starts only after the previous delivery of the job has ended
        spans.sort()
        assert all(later[0] >= earlier[1] - 0.05 for earlier, later in zip(spans, spans[1:], strict=False)), spans
