"""Moderato on a real Redis Cluster (three masters with one replica each, on loopback, from the embedded default's
redis-server): two API processes and two workers score a burst of 10,000 comments over 50 threads and three
tenants while the master that holds one tenant is SIGKILLed. Writes are acknowledged once a replica holds them
(MODERATO_REDIS_ACK_REPLICAS=1), so the failover loses nothing that was acknowledged."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from service import redis_keys as keys
from tests.conftest import TEST_KEYS
from tests.utils.processes import WebhookReceiver, free_port, start_serve, start_worker, wait_for, wait_until_ready
from tests.utils.redis_cluster import LocalCluster

pytestmark = pytest.mark.slow

PLATFORM_KEYS = {"tenant-a": "pk-a", "tenant-b": "pk-b", "tenant-c": "pk-c"}
API_KEYS = TEST_KEYS + ",pk-c=tenant-c:platform,mk-c=tenant-c:moderator"
COMMENTS = 10_000
BATCH = 100
THREADS = 50
KILL_AFTER_BATCHES = 40
TEXTS = [
    "Great point about the budget, thanks.",
    "You are a complete idiot and a liar.",
    "I disagree, the library should stay open.",
    "What time is the council meeting?",
]


def _batch(j: int) -> tuple[str, list[dict[str, Any]]]:
    tenant = list(PLATFORM_KEYS)[j % len(PLATFORM_KEYS)]
    comments = [
        {"id": f"{j}-{k}", "text": f"{TEXTS[k % len(TEXTS)]} ({j}.{k})", "thread_id": f"t{(j * BATCH + k) % THREADS}"}
        for k in range(BATCH)
    ]
    return tenant, comments


def _statuses(r: redis.RedisCluster, ids_by_tenant: dict[str, list[str]]) -> Counter[str]:
    pipe = r.pipeline()
    for tenant, ids in ids_by_tenant.items():
        for cid in ids:
            pipe.hget(keys.comment(tenant, cid), "status")
    return Counter((s or b"missing").decode() for s in pipe.execute())


def _model_audit(r: redis.RedisCluster, tenant: str) -> Counter[str]:
    return Counter(e[b"comment_id"].decode() for _, e in r.xrange(keys.audit(tenant)) if e[b"actor"] == b"model")


class Burst:
    """Sends the burst in batches of BATCH, alternating between the API processes, retrying a refused batch (the
    same ids: accepting is idempotent) until it is acknowledged; SIGKILLs tenant-a's master after
    KILL_AFTER_BATCHES batches, and restarts it once its replica has taken over."""

    def __init__(self, cluster: LocalCluster, urls: list[str]) -> None:
        self.cluster = cluster
        self.urls = urls
        self.acknowledged: dict[str, list[str]] = {t: [] for t in PLATFORM_KEYS}
        self.refusals: list[tuple[int, str]] = []
        self.killed = self.restarted = 0
        self.gap = [0.0, 0.0]  # first refusal, first acknowledgement after it

    def send(self) -> None:
        for j in range(COMMENTS // BATCH):
            if j == KILL_AFTER_BATCHES:
                self.killed = self.cluster.primary_of(keys.ingest("tenant-a"))
                self.cluster.kill(self.killed)
            self._send_batch(j)

    def _send_batch(self, j: int) -> None:
        tenant, batch = _batch(j)
        for attempt in range(300):
            self._restart_once_replaced()
            answer = requests.post(
                f"{self.urls[(j + attempt) % 2]}/v1/comments",
                json={"comments": batch},
                headers={"Authorization": f"Bearer {PLATFORM_KEYS[tenant]}"},
                timeout=30,
            )
            if answer.status_code == 202:
                items = answer.json()["items"]
                assert {i["status"] for i in items} <= {"queued", "duplicate"}, items
                self.acknowledged[tenant] += [i["id"] for i in items]
                if self.refusals and not self.gap[1]:
                    self.gap[1] = time.monotonic()
                return
            self.refusals.append((answer.status_code, answer.headers.get("retry-after", "")))
            self.gap[0] = self.gap[0] or time.monotonic()
            time.sleep(0.1)
        raise AssertionError(f"batch {j} never acknowledged: {self.refusals[-5:]}")

    def _restart_once_replaced(self) -> None:
        if not self.killed or self.restarted:
            return
        if self.cluster.primary_of(keys.ingest("tenant-a")) != self.killed:  # its replica took over: the
            self.cluster.restart(self.killed)  # operator's (or Kubernetes') restart; it rejoins as a replica
            self.restarted = self.killed


def _moderator_rejects(url: str, count: int) -> set[str]:
    """A moderator of tenant-c claims and rejects ``count`` held comments; their ids."""
    moderator = {"Authorization": "Bearer mk-c"}
    claimed = requests.post(f"{url}/v1/queues/review/claim", json={"count": count}, headers=moderator, timeout=10)
    ids = {item["id"] for item in claimed.json()["items"]}
    for cid in ids:
        answer = requests.post(
            f"{url}/v1/comments/{cid}/decision", json={"decision": "reject"}, headers=moderator, timeout=10
        )
        assert answer.status_code == 200, answer.text
    assert len(ids) == count
    return ids


def _model_decided(r: redis.RedisCluster, acknowledged: dict[str, list[str]]) -> set[str]:
    """Comments the model decided, each audited exactly once."""
    decided: set[str] = set()
    for tenant, ids in acknowledged.items():
        audit = _model_audit(r, tenant)
        assert set(audit.values()) <= {1}, "a comment decided twice"
        assert set(audit) <= set(ids)
        decided |= set(audit)  # comment ids are unique across tenants here
    return decided


def _erase_on_the_cluster(r: redis.RedisCluster, url: str, comment_id: str) -> None:
    """Erasing works across the cluster: one comment by its script, an author by their index (or, before a worker
    has indexed the tenant, a scan of every master)."""
    platform = {"Authorization": "Bearer pk-c"}
    assert requests.delete(f"{url}/v1/comments/{comment_id}", headers=platform, timeout=10).status_code == 204
    assert not r.exists(keys.comment("tenant-c", comment_id)) and r.zscore(keys.erased("tenant-c"), comment_id)
    queued = {"id": "by-zed", "text": "Zed was here.", "thread_id": "t0", "author_id": "zed"}
    assert requests.post(f"{url}/v1/comments", json={"comments": [queued]}, headers=platform, timeout=10).ok
    erased = requests.delete(f"{url}/v1/authors/zed", headers=platform, timeout=60).json()
    assert erased == {"author_id": "zed", "comments_erased": 1} and not r.exists(keys.comment("tenant-c", "by-zed"))


def test_a_burst_on_a_cluster_survives_a_master_killed_mid_burst(tmp_path: Path) -> None:
    hook = {"url": "", "secret": "s", "allow": ["127.0.0.1"]}
    settings: dict[str, Any] = {
        "redis_cluster": "true",
        "redis_ack_replicas": "1",
        "claim_idle_ms": "3000",
        "webhook_backoff_s": "0.2",
        "api_keys": API_KEYS,
    }
    with LocalCluster(tmp_path / "cluster") as cluster, WebhookReceiver() as receiver:
        settings["webhooks"] = {t: {**hook, "url": receiver.url} for t in PLATFORM_KEYS}
        ports = [free_port(), free_port()]
        apis = [
            start_serve(cluster.url, port, tmp_path / f"api{i}.log", inprocess_worker="false", **settings)
            for i, port in enumerate(ports)
        ]
        workers = [start_worker(cluster.url, name=f"w{i}", log=tmp_path / f"w{i}.log", **settings) for i in range(2)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        r = redis.RedisCluster.from_url(cluster.url)
        try:
            for url in urls:
                wait_until_ready(url, timeout=180)
            started = time.monotonic()
            burst = Burst(cluster, urls)
            burst.send()
            sent_s = time.monotonic() - started
            assert sum(len(v) for v in burst.acknowledged.values()) == COMMENTS
            assert burst.killed and burst.restarted and burst.refusals, "the kill must have been felt"
            assert all(status == 503 and retry for status, retry in burst.refusals), Counter(burst.refusals)
            wait_for(lambda: _statuses(r, burst.acknowledged)["queued"] == 0, 900, "every comment scored", every=2)
            scored_s = time.monotonic() - started
            counts = _statuses(r, burst.acknowledged)
            assert counts["scored"] + counts["decided"] == COMMENTS, counts  # nothing acknowledged was lost
            decided = _model_decided(r, burst.acknowledged)
            assert len(decided) == counts["decided"]
            moderated = _moderator_rejects(urls[1], 5)  # through the other API process, on the cluster made whole
            _erase_on_the_cluster(r, urls[0], sorted(moderated)[0])
            wait_for(lambda: all(r.zcard(keys.webhook_due(t)) == 0 for t in PLATFORM_KEYS), 120, "webhooks")
        finally:
            for process in apis + workers:
                process.send_signal(signal.SIGTERM)
            for process in apis + workers:
                process.wait(timeout=60)
            r.close()
    deliveries: dict[str, set[str]] = {}
    for d in receiver.received:
        headers = {k.lower(): v for k, v in d["headers"].items()}
        deliveries.setdefault(json.loads(d["body"])["comment_id"], set()).add(headers["x-moderato-delivery"])
    # every model decision and the moderator's reached the platform (the comment erased at once may have been
    # decided first: it may or may not have a delivery)
    assert set(deliveries) - {"by-zed"} == decided | moderated
    assert all(len(ids) == 1 for ids in deliveries.values())  # one delivery (id) per decision: receivers dedupe
    print(
        f"\ncluster burst: {COMMENTS} comments acknowledged in {sent_s:.1f} s, all scored after {scored_s:.1f} s; "
        f"master :{burst.killed} SIGKILLed: {len(burst.refusals)} refusals (503 + Retry-After) over "
        f"{burst.gap[1] - burst.gap[0]:.1f} s; {counts['decided']} decided by the model, {len(deliveries)} webhooks"
    )
