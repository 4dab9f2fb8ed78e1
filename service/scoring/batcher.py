"""Micro-batching: concurrent requests' comments coalesce into model batches.

A batch closes when it holds ``max_items`` comments or ``max_wait_ms`` after its first comment arrived, whichever
is first, and runs on a worker thread so the event loop keeps serving. Up to ``streams`` batches run at once; a
batch is collected only when a stream is free, so while all are busy the next one fills: under load batches grow
on their own, and an idle service answers a lone comment after at most ``max_wait_ms``. Work that arrives while
several streams are idle is shared out among them (a request of 32 comments on an idle service runs as two
batches of 16 side by side, not one of 32 next to an idle stream).

Fair between tenants: each submitter names its lane (the tenant), and batches are filled by fair queuing over the
lanes, each lane's turn weighed by the model work its items cost (``cost``: a long comment is several windows),
so a lone comment joins the next batch instead of waiting behind another tenant's backlog; and a batch holds at
most ``max_cost`` of work, so the batch it waits for is short even when the backlog is of long texts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

from service.errors import Unavailable

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class BatcherClosed(Unavailable):
    """The batcher is shutting down and takes no new work (the API answers 503: retry on another instance)."""

    def __init__(self, message: str = "the service is shutting down") -> None:
        super().__init__(message, code="shutting_down")


@dataclass
class _Pending(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]
    queued_at: float  # time.monotonic() when submitted
    cost: float = 1.0


class FairQueue(Generic[Item, Result]):
    """Pending items in lanes, taken by start-time fair queuing: the next item is from the lane that has been served
    the least work so far. A lane that was idle joins at the current virtual time, so idleness banks no credit."""

    def __init__(self) -> None:
        self._lanes: dict[str, deque[_Pending[Item, Result]]] = {}
        self._served: dict[str, float] = {}
        self._clock = 0.0  # the virtual time: the served work of the lane taken last
        self._size = 0
        self._cost = 0.0
        self._arrived = asyncio.Event()

    def qsize(self) -> int:
        return self._size

    def queued_cost(self) -> float:
        return self._cost

    def empty(self) -> bool:
        return self._size == 0

    def put(self, lane: str, pending: _Pending[Item, Result]) -> None:
        waiting = self._lanes.setdefault(lane, deque())
        if not waiting:
            self._served[lane] = max(self._served.get(lane, 0.0), self._clock)
        waiting.append(pending)
        self._size += 1
        self._cost += pending.cost
        self._arrived.set()

    def peek(self, max_cost: float = math.inf) -> _Pending[Item, Result]:
        return self._lanes[self._next_lane(max_cost)][0]

    def has(self, max_cost: float = math.inf) -> bool:
        """Whether an item costing at most ``max_cost`` heads a lane (what a stream held for short work may take)."""
        return any(waiting[0].cost <= max_cost for waiting in self._lanes.values())

    def get_nowait(self, max_cost: float = math.inf) -> _Pending[Item, Result]:
        lane = self._next_lane(max_cost)
        pending = self._lanes[lane].popleft()
        if not self._lanes[lane]:
            del self._lanes[lane]
        self._clock = self._served[lane]
        self._served[lane] += pending.cost
        self._size -= 1
        self._cost -= pending.cost
        if not self._size:
            self._arrived.clear()
        return pending

    def _next_lane(self, max_cost: float = math.inf) -> str:
        """The least-served lane whose next item costs at most ``max_cost`` (a lane's items keep their order)."""
        eligible = [lane for lane, waiting in self._lanes.items() if waiting[0].cost <= max_cost]
        return min(eligible, key=self._served.__getitem__)

    async def wait(self, timeout: float | None, max_cost: float = math.inf) -> bool:
        """Wait until an item costing at most ``max_cost`` is queued, or ``wake`` is called (at most ``timeout``
        s); whether such an item is queued."""
        if self.has(max_cost):
            return True
        self._arrived.clear()  # set again by the next put or wake
        try:
            await asyncio.wait_for(self._arrived.wait(), timeout)
        except TimeoutError:
            return False
        return self.has(max_cost)

    def wake(self) -> None:
        """Wake a collector waiting in ``wait`` (a stream freed, or the batcher closing): it looks again."""
        self._arrived.set()

    def forget_idle(self) -> None:
        """Drop the served counters of lanes with nothing queued (they rejoin at the clock anyway)."""
        for lane in [lane for lane in self._served if lane not in self._lanes]:
            del self._served[lane]


class MicroBatcher(Generic[Item, Result]):
    """Runs ``run_batch`` over coalesced items.

    :param run_batch: blocking function from a list of items to one result per item, in order.
    :param max_items: most items per batch.
    :param max_wait_ms: longest a batch waits for more items after its first.
    :param on_batch: called with (batch size, seconds) after each batch (metrics).
    :param streams: batches run concurrently (``run_batch`` must then be thread-safe).
    :param cost: the model work of one item, in units of the smallest (a comment of one window): lanes are served
        by it, and a batch holds at most ``max_cost`` of it. Default: every item costs 1.
    :param max_cost: most work per batch; default ``max_items``.
    :param short_cost: the most work an item may be and still count as short (a comment of one window).
    :param short_streams: streams held for short work: batches with a longer item run on the other streams only,
        so a short comment never waits behind a neighbour's long ones (tenants' fairness in latency, not only in
        share). Long work then has ``streams - short_streams`` streams; 0 holds none back.
    :param on_idle: run on a model thread when the last running batch ends with nothing queued, once at least
        ``idle_after_cost`` of work has run since the last time (the runner gives the memory a burst took back to
        the system: worth it after a burst, a waste after every single comment).
    """

    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result]],
        *,
        max_items: int,
        max_wait_ms: float,
        on_batch: Callable[[int, float], None] | None = None,
        streams: int = 1,
        cost: Callable[[Item], float] | None = None,
        max_cost: float | None = None,
        on_idle: Callable[[], None] | None = None,
        idle_after_cost: float = 0.0,
        short_cost: float = 1.0,
        short_streams: int = 0,
    ) -> None:
        self.run_batch = run_batch
        self.max_items = max_items
        self.max_wait_s = max_wait_ms / 1000
        self.on_batch = on_batch
        self.cost = cost or (lambda _: 1.0)
        self.max_cost = float(max_cost if max_cost is not None else max_items)
        self.on_idle = on_idle
        self.idle_after_cost = idle_after_cost
        self._cost_since_idle = 0.0
        self._queue: FairQueue[Item, Result] = FairQueue()
        self.streams = streams
        self.short_cost = short_cost
        self.short_streams = min(short_streams, streams - 1)  # at least one stream always takes long work
        self._long_running = 0  # batches with a long item, running now
        self._executor = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="model")
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()  # one batch per busy stream
        self._long: set[asyncio.Task[None]] = set()  # those with an item longer than short_cost
        self._closing = False
        self.batches = 0
        self.items = 0

    def __repr__(self) -> str:
        return f"MicroBatcher(batches={self.batches}, items={self.items}, queued={self._queue.qsize()})"

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="micro-batcher")

    def _enqueue(self, items: list[Item], lane: str) -> list[asyncio.Future[Result]]:
        if self._closing or self._task is None:
            raise BatcherClosed("the model is shutting down")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        pending = [_Pending(item, loop.create_future(), now, max(0.0, float(self.cost(item)))) for item in items]
        for p in pending:
            self._queue.put(lane, p)
        return [p.future for p in pending]

    async def submit_many(self, items: list[Item], lane: str = "") -> list[Result]:
        """Results in order; ``lane`` (the tenant) is the unit of fairness."""
        return list(await asyncio.gather(*self._enqueue(items, lane)))

    async def submit_each(self, items: list[Item], lane: str = "") -> list[Result | Exception]:
        """As ``submit_many``, but an item the model failed on comes back as its exception instead of raising:
        one bad input must not sink its neighbours."""
        outcomes = await asyncio.gather(*self._enqueue(items, lane), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation is not an item's failure
        return cast(list[Result | Exception], outcomes)

    def _share(self, first: _Pending[Item, Result]) -> tuple[int, float]:
        """Most items and work for the batch being collected: an even share of what is queued among the idle
        streams."""
        idle = self.streams - len(self._running)  # this batch's stream included
        items = max(1, min(self.max_items, math.ceil((1 + self._queue.qsize()) / idle)))
        work = min(self.max_cost, max(first.cost, (first.cost + self._queue.queued_cost()) / idle))
        return items, work

    def _takes(self) -> float:
        """The costliest item the stream being filled may take: anything while long work holds fewer streams than
        it may, else only short items (the rest is held for short work)."""
        return math.inf if self._long_running < self.streams - self.short_streams else self.short_cost

    async def _collect(self) -> tuple[list[_Pending[Item, Result]], bool]:
        """The next batch, and whether the batcher is closed with nothing left after it."""
        batch: list[_Pending[Item, Result]] = []
        deadline: float | None = None
        limit, budget, work = self.max_items, self.max_cost, 0.0
        while len(batch) < limit:
            takes = self._takes()
            if not self._queue.has(takes):
                if self._closing and (self._queue.empty() or batch):
                    break
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    break
                await self._queue.wait(timeout, takes)
                continue  # look again: something arrived, a stream freed, it timed out, or the batcher closes
            if batch and work + self._queue.peek(takes).cost > budget:
                break  # the batch is full of work: the next item starts the next batch
            got = self._queue.get_nowait(takes)
            batch.append(got)
            work += got.cost
            if deadline is None:
                # from the first item's arrival: items that queued behind a running batch have waited already
                deadline = got.queued_at + self.max_wait_s
                if not self._queue.empty():  # a burst already waiting: share it out
                    limit, budget = self._share(got)
        return batch, self._closing and self._queue.empty()

    async def _loop(self) -> None:
        free = asyncio.Semaphore(self.streams)

        def finished(task: asyncio.Task[None]) -> None:
            self._running.discard(task)
            if task in self._long:
                self._long.discard(task)
                self._long_running -= 1
                self._queue.wake()  # a stream held for short work may take long work again
            free.release()
            idle = not self._running and self._queue.empty() and not self._closing
            if self.on_idle is not None and idle and self._cost_since_idle >= self.idle_after_cost:
                self._cost_since_idle = 0.0
                asyncio.get_running_loop().run_in_executor(self._executor, self.on_idle)

        stop = False
        while not stop:
            await free.acquire()  # collect only for a free stream: meanwhile the queue fills the next batch
            batch, stop = await self._collect()
            if not batch:
                free.release()
                continue
            if self._queue.empty():
                self._queue.forget_idle()
            self._cost_since_idle += sum(p.cost for p in batch)
            task = asyncio.create_task(self._run(batch))
            task.add_done_callback(finished)
            self._running.add(task)
            if any(p.cost > self.short_cost for p in batch):
                self._long.add(task)
                self._long_running += 1
        await asyncio.gather(*self._running)

    async def _run(self, batch: list[_Pending[Item, Result]]) -> None:
        started = time.perf_counter()
        try:
            results = await asyncio.get_running_loop().run_in_executor(
                self._executor, self.run_batch, [p.item for p in batch]
            )
        except Exception as exc:  # a failed batch fails its own requests, never the loop
            if len(batch) > 1:  # find the input(s) it failed on: each alone, so the rest are still answered
                log.warning("model batch of %d failed (%s); running its items one by one", len(batch), exc)
                for p in batch:
                    await self._run([p])
                return
            log.exception("model failed on an input")
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        self.batches += 1
        self.items += len(batch)
        if self.on_batch:
            self.on_batch(len(batch), time.perf_counter() - started)
        if len(results) != len(batch):
            error = RuntimeError(f"model returned {len(results)} results for {len(batch)} items")
            for p in batch:
                if not p.future.done():
                    p.future.set_exception(error)
            return
        for p, result in zip(batch, results, strict=True):
            if not p.future.done():  # a client that went away cancelled its future
                p.future.set_result(result)

    async def close(self) -> None:
        """Stop taking work, finish everything already queued (in-flight batches included), then stop."""
        self._closing = True
        if self._task is not None:
            self._queue.wake()  # a collect waiting for work sees the close
            await self._task
        self._executor.shutdown(wait=True)
        log.info("batcher closed: %r", self)
