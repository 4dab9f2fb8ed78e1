"""Webhook deliveries: signed POSTs of decisions, retried with exponential backoff from a Redis schedule.

Each delivery is a job hash plus an entry in the tenant's due set (score = due time). A sender takes a due job
by moving it IN_FLIGHT_S into the future (atomically, only if it is still due), and removes it once delivered or
dead-lettered, so a sender that dies mid-delivery leaves the job to be retried (at-least-once). A delivery is
bounded in total (DELIVERY_TIMEOUT_S: connecting, sending and a receiver that answers one byte a second alike),
well inside the in-flight window, so no other sender takes a job while its delivery is still open.

Each receiver (tenant and host) has its own lane: a job is taken only when its receiver has a free slot (PER_HOST
at once), and deliveries run as tasks of their own, so a slow receiver holds back only its own deliveries, never
the same tenant's deliveries to a fast one.
The signature is HMAC-SHA256 over ``"{timestamp}.{body}"`` with the tenant's secret, sent as
``X-Moderato-Signature: sha256=<hex>`` beside ``X-Moderato-Timestamp``; receivers should also reject old timestamps.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import cast

import httpx
import redis.asyncio as aioredis

from service import redis_keys as keys
from service.config import CoralSiteSettings, Settings
from service.contract import MODEL_ACTOR
from service.moderation.coral_graphql import MUTATIONS, CoralError, CoralGraphQL
from service.moderation.targets import AllowList, allow_list, delivery_error, post_checked
from service.redis_client import UNAVAILABLE, cancel_requested, stop_if_cancelled, text, text_map

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Moderato-Signature"
# The same for every retry of one delivery: delivery is at-least-once, so a receiver drops ids it has seen
DELIVERY_HEADER = "X-Moderato-Delivery"
TIMESTAMP_HEADER = "X-Moderato-Timestamp"
BACKOFF_CAP_S = 3600.0  # longest wait between two tries, seconds
TIMEOUT_S = 5.0  # each connect, read and write
DELIVERY_TIMEOUT_S = 20.0  # one delivery in total, however slowly the receiver answers
PER_HOST = 4  # one tenant's deliveries to one receiver at once
# Due jobs looked at per round: jobs for a busy receiver are passed over, so the window must reach past a slow
# receiver's backlog to the jobs of the others
SCAN = 500
# A job being delivered stays in the due set, pushed this far into the future: if its sender dies mid-delivery
# the job comes due again and another sender retries it (at-least-once). Longer than a delivery can take.
IN_FLIGHT_S = 60.0

# KEYS[1] due set. ARGV: job, now, in-flight deadline. Takes the job only if it is still due, so two senders
# never deliver the same job at once.
TAKE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, body: bytes, signature: str, *, max_age_s: float = 300, now: float | None = None
) -> bool:
    """What a receiver runs: the signature matches and the timestamp is recent (replays are refused)."""
    try:
        age = abs((now or time.time()) - float(timestamp))
    except (ValueError, OverflowError):
        return False
    # bytes, not str: compare_digest refuses a non-ASCII str (a forged header must be a False, not a TypeError)
    expected = sign(secret, timestamp, body).encode()
    return age <= max_age_s and hmac.compare_digest(expected, signature.encode("utf-8", "surrogateescape"))


def backoff_s(attempts: int, base_s: float) -> float:
    """Seconds before try ``attempts + 1``: base, 2x base, 4x base, ... capped."""
    return min(base_s * 2.0 ** max(0, attempts - 1), BACKOFF_CAP_S)


class WebhookSender:
    """Delivers due jobs of every tenant.

    :param secret_for: tenant -> signing secret (None: deliveries for that tenant are dead-lettered, unsigned
        webhooks are never sent).
    :param max_attempts: deliveries tried before a job goes to the tenant's webhook dead-letter stream.
    :param backoff_base_s: wait before the first retry (doubling after each failure).
    :param in_flight_s: how long a taken job waits before another sender may retry it.
    :param allow_for: tenant -> the non-public hosts and ranges it may deliver to (service/moderation/targets.py).
    :param per_host: one tenant's deliveries to one receiver (host and port) at once, so a slow receiver cannot
        take every connection.
    :param coral_for: tenant -> its Coral site, if it has one: comments from it are decided in Coral too.
    :param delivery_timeout_s: one delivery's whole time; default the smaller of DELIVERY_TIMEOUT_S and half the
        in-flight window (it must end before another sender may take the job).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        secret_for: Callable[[str], str | None],
        max_attempts: int,
        backoff_base_s: float = 2.0,
        in_flight_s: float = IN_FLIGHT_S,
        client: httpx.AsyncClient | None = None,
        allow_for: Callable[[str], AllowList] = lambda tenant: AllowList(),
        coral_for: Callable[[str], CoralSiteSettings | None] = lambda tenant: None,
        per_host: int = PER_HOST,
        delivery_timeout_s: float | None = None,
    ) -> None:
        self.redis = redis
        self.secret_for = secret_for
        self.allow_for = allow_for
        self.coral_for = coral_for
        self.per_host = per_host
        self.delivery_timeout_s = delivery_timeout_s or min(DELIVERY_TIMEOUT_S, in_flight_s / 2)
        if self.delivery_timeout_s >= in_flight_s:
            raise ValueError("a delivery must end inside the in-flight window, or a job could be sent twice at once")
        self._busy: dict[str, int] = {}  # receiver lane -> deliveries open now
        self._open: dict[tuple[str, str], asyncio.Task[None]] = {}  # (tenant, job) -> its delivery
        self._lane_of: dict[tuple[str, str], str] = {}  # (tenant, job) -> its receiver lane, until it is delivered
        self.max_attempts = max_attempts
        self.backoff_base_s = backoff_base_s
        self.in_flight_s = in_flight_s
        self.client = client or httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False)
        self._take = redis.register_script(TAKE)
        self.delivered = 0
        self.failed = 0
        self.dead = 0

    def __repr__(self) -> str:
        return f"WebhookSender(delivered={self.delivered}, failed={self.failed}, dead={self.dead})"

    async def run_due(self, tenant: str, limit: int = 50) -> int:
        """Deliver up to ``limit`` due jobs of one tenant and wait for them; returns how many were taken."""
        started = await self.start_due(tenant, limit)
        await asyncio.gather(*started, return_exceptions=True)
        return len(started)

    def open_for(self, tenant: str) -> list[asyncio.Task[None]]:
        """This tenant's deliveries open now."""
        return [task for (owner, _), task in self._open.items() if owner == tenant]

    async def start_due(self, tenant: str, limit: int = SCAN) -> list[asyncio.Task[None]]:
        """Take the due jobs of one tenant whose receivers have a free slot, and start delivering each on a task
        of its own (a job whose receiver is busy stays due, for a later round)."""
        due_key = keys.webhook_due(tenant)
        now = time.time()
        due = [text(raw) for raw in cast(list[bytes], await self.redis.zrangebyscore(due_key, "-inf", now, 0, limit))]
        due = [job for job in due if (tenant, job) not in self._open]
        if not due:
            return []
        await self._learn_lanes(tenant, due)
        started = []
        for job in due:
            lane = self._lane_of[(tenant, job)]
            if self._busy.get(lane, 0) >= self.per_host:
                continue
            if not await self._take(keys=[due_key], args=[job, f"{now:.3f}", f"{now + self.in_flight_s:.3f}"]):
                continue
            self._busy[lane] = self._busy.get(lane, 0) + 1
            task = asyncio.create_task(self._deliver_in_lane(tenant, job, lane))
            self._open[(tenant, job)] = task
            started.append(task)
        return started

    async def _learn_lanes(self, tenant: str, due: list[str]) -> None:
        """Each due job's receiver, read once per job: a job's URL never changes, and a round starts whenever a
        delivery ends, so re-reading every waiting job's URL each round would grow with the backlog. Jobs no longer
        due (another sender delivered them) are forgotten."""
        waiting = set(due)
        for key in [k for k in self._lane_of if k[0] == tenant and k[1] not in waiting and k not in self._open]:
            del self._lane_of[key]
        new = [job for job in due if (tenant, job) not in self._lane_of]
        if not new:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for job in new:
                pipe.hget(keys.webhook_job(tenant, job), "url")
            urls = await pipe.execute()
        for job, url in zip(new, urls, strict=True):  # no URL: finished elsewhere; taken, then cleaned up
            self._lane_of[(tenant, job)] = _receiver(tenant, text(url))

    async def _deliver_in_lane(self, tenant: str, job: str, lane: str) -> None:
        try:
            await self._deliver(tenant, job)
        except Exception as exc:  # a Redis error mid-job: the job comes due again after in_flight_s
            log.warning("webhook %s not finished (%s); it will be retried", job, type(exc).__name__)
        finally:
            self._lane_of.pop((tenant, job), None)
            self._busy[lane] -= 1
            if not self._busy[lane]:
                del self._busy[lane]
            self._open.pop((tenant, job), None)

    async def drain(self) -> None:
        """Wait for every delivery this sender has open (burst mode's final flush, shutdown), never longer than one
        delivery may take: a delivery still open after that is cancelled and its job comes due again."""
        open_now = list(self._open.values())
        if not open_now:
            return
        _, late = await asyncio.wait(open_now, timeout=self.delivery_timeout_s + 1.0)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _deliver(self, tenant: str, job: str) -> None:
        key = keys.webhook_job(tenant, job)
        data = text_map(await self.redis.hgetall(key))
        if not data:  # already finished by another sender
            await self.redis.zrem(keys.webhook_due(tenant), job)
            return
        attempts = int(data.get("attempts", "0")) + 1
        error, retry = await self._send(tenant, job, data)
        if error is None:
            self.delivered += 1
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(keys.webhook_due(tenant), job)
                pipe.delete(key)
                await pipe.execute()
            return
        self.failed += 1
        if attempts >= self.max_attempts or not retry:
            self.dead += 1
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zrem(keys.webhook_due(tenant), job)
                pipe.xadd(
                    keys.webhook_dead(tenant),
                    {"job": job, "url": data["url"], "body": data["body"], "attempts": attempts, "error": error},
                )
                pipe.delete(key)
                await pipe.execute()
            log.warning("webhook %s dead after %d attempts: %s", job, attempts, error)
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"attempts": attempts, "last_error": error})
            pipe.zadd(keys.webhook_due(tenant), {job: time.time() + backoff_s(attempts, self.backoff_base_s)})
            await pipe.execute()

    async def _send(self, tenant: str, job: str, data: dict[str, str]) -> tuple[str | None, bool]:
        """Deliver once: (the error, None when delivered; whether another try could succeed). A comment from a
        Coral site goes to Coral's GraphQL API; every other one is a signed webhook."""
        site = self.coral_for(tenant)
        if site is not None and data["url"] == site.graphql_url:
            return await self._push_to_coral(tenant, job, site, data["body"]), True
        secret = self.secret_for(tenant)
        if secret is None:  # unsigned webhooks are never sent
            return "no webhook secret configured for this tenant", False
        return await self._post(tenant, job, data["url"], data["body"].encode(), secret), True

    async def _push_to_coral(self, tenant: str, job: str, site: CoralSiteSettings, body: str) -> str | None:
        """A moderator's decision, as Coral's approveComment / rejectComment. The model's own decision is not sent:
        Coral applied it when its phase got the answer. An escalation stays in Moderato."""
        decision = json.loads(body)
        if decision.get("decided_by") == MODEL_ACTOR or decision.get("decision") not in MUTATIONS:
            return None
        coral_id = await self.redis.hget(keys.comment(tenant, decision["comment_id"]), "coral_id")
        if not coral_id:  # retried: Coral's webhook usually names the comment within seconds
            return "not linked to a Coral comment yet (no COMMENT_CREATED webhook from Coral has named it)"
        coral = CoralGraphQL(site, self.allow_for(tenant), self.client, timeout_s=self.delivery_timeout_s / 2)
        try:
            await coral.moderate(text(coral_id), decision["decision"], job)
        except CoralError as exc:
            return str(exc)
        return None

    async def _post(self, tenant: str, job: str, url: str, body: bytes, secret: str) -> str | None:
        """Deliver once; the error (None: delivered) says what kind of failure it was and never echoes connection
        details, so a dead letter cannot be used to probe the network behind the server."""
        timestamp = f"{time.time():.0f}"
        headers = {
            "content-type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: job,
        }
        try:  # bounded in total: a receiver that drips never holds on
            response = await post_checked(
                self.client,
                url,
                self.allow_for(tenant),
                content=body,
                headers=headers,
                timeout_s=self.delivery_timeout_s,
            )
        except Exception as exc:  # every failure counts an attempt: a job that raises must still die eventually
            return delivery_error(exc)
        return None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"

    async def aclose(self) -> None:
        await self.drain()
        await self.client.aclose()


def _receiver(tenant: str, url: str) -> str:
    """A delivery lane: one tenant's deliveries to one host and port (a tenant's slow endpoint queues its own
    deliveries, never another tenant's, even one that uses the same host)."""
    try:
        netloc = httpx.URL(url).netloc.decode("ascii", "replace")
    except (httpx.InvalidURL, TypeError, ValueError):
        netloc = url  # refused when delivered (resolve): its own lane meanwhile
    return f"{tenant}\x00{netloc}"


def build_sender(redis: aioredis.Redis, settings: Settings) -> WebhookSender:
    """A sender signing with each tenant's configured secret."""

    def secret_for(tenant: str) -> str | None:
        hook = settings.webhooks.get(tenant)
        return hook.secret.get_secret_value() if hook and hook.secret else None

    return WebhookSender(
        redis,
        secret_for=secret_for,
        allow_for=lambda tenant: allow_list(settings, tenant),
        coral_for=settings.coral_sites.get,
        max_attempts=settings.webhook_max_attempts,
        backoff_base_s=settings.webhook_backoff_s,
    )


class WebhookLoop:
    """Delivers every tenant's due webhooks, each tenant on a loop of its own, so one site's slow receiver never
    holds back another site's deliveries.

    :param tenants: the tenants to serve (read every ``every_s``: the worker's list grows as tenants appear).
    """

    def __init__(self, sender: WebhookSender, *, tenants: Callable[[], list[str]], every_s: float = 0.5) -> None:
        self.sender = sender
        self.tenants = tenants
        self.every_s = every_s

    def __repr__(self) -> str:
        return repr(self.sender)

    async def round(self) -> None:
        """One delivery round for every tenant at once (burst mode's final flush)."""
        await asyncio.gather(*(self.sender.run_due(t) for t in self.tenants()), return_exceptions=True)
        await self.sender.drain()

    async def run(self) -> None:
        loops: dict[str, asyncio.Task[None]] = {}
        try:
            while True:
                for tenant in self.tenants():
                    if tenant not in loops or loops[tenant].done():
                        loops[tenant] = asyncio.create_task(self._tenant_loop(tenant))
                await asyncio.sleep(self.every_s)
        finally:
            for task in loops.values():
                task.cancel()
            await asyncio.gather(*loops.values(), return_exceptions=True)

    async def _tenant_loop(self, tenant: str) -> None:
        while True:
            stop_if_cancelled()
            try:  # start what is due and carry on: deliveries run on their own, each receiver in its own lane
                await self.sender.start_due(tenant)
            except UNAVAILABLE as exc:  # Redis out of reach: the due jobs wait in Redis for the next round
                if cancel_requested():  # a cancelled Redis read can surface as a connection error: stop as asked
                    raise asyncio.CancelledError from exc
                log.warning("webhook round for %s skipped: redis unavailable (%s)", tenant, type(exc).__name__)
            except Exception as exc:  # never let a webhook problem stop scoring, or this tenant's deliveries
                if cancel_requested():
                    raise asyncio.CancelledError from exc
                log.exception("webhook round for %s failed", tenant)
            # the next round as soon as a delivery ends (its receiver has a free slot again), or after every_s
            open_now = self.sender.open_for(tenant)
            if open_now:
                await asyncio.wait(open_now, timeout=self.every_s, return_when=asyncio.FIRST_COMPLETED)
            else:
                await asyncio.sleep(self.every_s)
