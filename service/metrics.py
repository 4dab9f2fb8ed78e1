"""Prometheus instruments, on a registry of their own per app (tests build many apps in one process)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
GC_BUCKETS = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "moderato_request_seconds",
            "HTTP request latency",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "moderato_model_batch_size", "Comments per model batch", buckets=BATCH_BUCKETS, registry=r
        )
        self.model_seconds = Histogram(
            "moderato_model_batch_seconds", "Model time per batch", buckets=LATENCY_BUCKETS, registry=r
        )
        self.cache_hits = Counter("moderato_cache_hits", "Results answered from the cache", registry=r)
        self.cache_misses = Counter("moderato_cache_misses", "Results that needed the model", registry=r)
        self.comments_scored = Counter("moderato_comments_scored", "Comments scored", ["decision"], registry=r)
        self.redis_errors = Counter("moderato_redis_errors", "Redis operations that failed", ["op"], registry=r)
        self.model_load_failures = Counter(
            "moderato_model_load_failures",
            "Learned model versions a pointer named that could not be loaded",
            registry=r,
        )
        self.shadow_scored = Counter(
            "moderato_shadow_scored", "Comments a shadowed candidate scored beside the served model", registry=r
        )
        # A pause here stops the event loop and the model streams alike (see service/heap.py)
        self.gc_pause_seconds = Histogram(
            "moderato_gc_pause_seconds", "Garbage collection pauses", ["generation"], buckets=GC_BUCKETS, registry=r
        )
        self.queue_depth = Gauge(
            "moderato_ingest_queue_depth", "Comments waiting in the ingest stream", ["tenant"], registry=r
        )
        self.review_depth = Gauge(
            "moderato_review_queue_depth", "Comments waiting for a moderator", ["tenant", "queue"], registry=r
        )
        # Read from Redis at scrape time (every replica and worker writes the same counts): a counter family of its
        # own, since prometheus-client's Counter can only count what this process saw
        self.decisions = DecisionCounts()
        r.register(self.decisions)

        # Every live worker's counters (in-process or not), read from their health keys at scrape time
        self.worker_events = Gauge(
            "moderato_worker_events",
            "A live worker's counters since it started (scored, duplicates, taken_over, dead_lettered, webhooks_*)",
            ["worker", "counter"],
            registry=r,
        )

    def set_decisions(self, counts: dict[str, dict[str, int]]) -> None:
        self.decisions.counts = counts

    def set_workers(self, states: list[dict[str, Any]]) -> None:
        self.worker_events.clear()  # a worker whose health key expired is gone, not frozen at its last count
        for state in states:
            for counter, value in state.items():
                if counter not in ("name", "at") and isinstance(value, int):
                    self.worker_events.labels(str(state["name"]), counter).set(value)

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.model_seconds.observe(seconds)

    def observe_gc(self, generation: int, seconds: float) -> None:
        self.gc_pause_seconds.labels(str(generation)).observe(seconds)


class DecisionCounts(Collector):
    """``moderato_decisions_total{tenant, actor, action}``: every decision taken, by the model (allow, review,
    reject) or by a moderator or admin key (approve, reject, escalate), as last read from Redis."""

    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = {}  # tenant -> "actor:action" -> count

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "moderato_decisions", "Decisions taken, by actor kind and action", labels=["tenant", "actor", "action"]
        )
        for tenant, counts in sorted(self.counts.items()):
            for field, value in sorted(counts.items()):
                actor, _, action = field.partition(":")
                family.add_metric([tenant, actor, action], value)
        yield family
