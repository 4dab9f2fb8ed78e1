"""Webhook deliveries against a loopback receiver: signatures, and a sender dying mid-delivery."""

from __future__ import annotations

import asyncio
import json
import time

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.moderation.targets import AllowList
from service.moderation.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, sign, verify
from service.redis_server import EmbeddedRedis
from tests.utils.processes import WebhookReceiver


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
