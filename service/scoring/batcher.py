"""Micro-batching: concurrent requests' comments coalesce into model batches.

A batch closes when it holds ``max_items`` comments or ``max_wait_ms`` after its first comment arrived, whichever
is first, and runs on a worker thread so the event loop keeps serving. Up to ``streams`` batches run at once; a
batch is collected only when a stream is free, so while all are busy the next one fills: under load batches grow
on their own, and an idle service answers a lone comment after at most ``max_wait_ms``. Work that arrives while
several streams are idle is shared out among them (a request of 32 comments on an idle service runs as two
batches of 16 side by side, not one of 32 next to an idle stream).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
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


class MicroBatcher(Generic[Item, Result]):
    """Runs ``run_batch`` over coalesced items.

    :param run_batch: blocking function from a list of items to one result per item, in order.
    :param max_items: most items per batch.
    :param max_wait_ms: longest a batch waits for more items after its first.
    :param on_batch: called with (batch size, seconds) after each batch (metrics).
    :param streams: batches run concurrently (``run_batch`` must then be thread-safe).
    """

    def __init__(
        self,
        run_batch: Callable[[list[Item]], Sequence[Result]],
        *,
        max_items: int,
        max_wait_ms: float,
        on_batch: Callable[[int, float], None] | None = None,
        streams: int = 1,
    ) -> None:
        self.run_batch = run_batch
        self.max_items = max_items
        self.max_wait_s = max_wait_ms / 1000
        self.on_batch = on_batch
        # None is the close sentinel: everything queued before it is still run
        self._queue: asyncio.Queue[_Pending[Item, Result] | None] = asyncio.Queue()
        self.streams = streams
        self._executor = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="model")
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()  # one batch per busy stream
        self._closing = False
        self.batches = 0
        self.items = 0

    def __repr__(self) -> str:
        return f"MicroBatcher(batches={self.batches}, items={self.items}, queued={self._queue.qsize()})"

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="micro-batcher")

    def _enqueue(self, items: list[Item]) -> list[asyncio.Future[Result]]:
        if self._closing or self._task is None:
            raise BatcherClosed("the model is shutting down")
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        pending = [_Pending(item, loop.create_future(), now) for item in items]
        for p in pending:
            self._queue.put_nowait(p)
        return [p.future for p in pending]

    async def submit_many(self, items: list[Item]) -> list[Result]:
        return list(await asyncio.gather(*self._enqueue(items)))

    async def submit_each(self, items: list[Item]) -> list[Result | Exception]:
        """As ``submit_many``, but an item the model failed on comes back as its exception instead of raising:
        one bad input must not sink its neighbours."""
        outcomes = await asyncio.gather(*self._enqueue(items), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancellation is not an item's failure
        return cast(list[Result | Exception], outcomes)

    def _share(self) -> int:
        """Most items for the batch being collected: an even share of what is queued among the idle streams."""
        idle = self.streams - len(self._running)  # this batch's stream included
        return max(1, min(self.max_items, math.ceil((1 + self._queue.qsize()) / idle)))

    async def _collect(self) -> tuple[list[_Pending[Item, Result]], bool]:
        """The next batch, and whether the close sentinel came after it."""
        batch: list[_Pending[Item, Result]] = []
        deadline: float | None = None
        limit = self.max_items
        while len(batch) < limit:
            if not self._queue.empty():
                got = self._queue.get_nowait()
            else:
                timeout = None if deadline is None else deadline - time.monotonic()
                if timeout is not None and timeout <= 0:
                    break
                try:
                    got = await asyncio.wait_for(self._queue.get(), timeout)
                except TimeoutError:
                    break
            if got is None:
                return batch, True
            batch.append(got)
            if deadline is None:
                # from the first item's arrival: items that queued behind a running batch have waited already
                deadline = got.queued_at + self.max_wait_s
                if not self._queue.empty():  # a burst already waiting: share it out
                    limit = self._share()
        return batch, False

    async def _loop(self) -> None:
        free = asyncio.Semaphore(self.streams)

        def finished(task: asyncio.Task[None]) -> None:
            self._running.discard(task)
            free.release()

        stop = False
        while not stop:
            await free.acquire()  # collect only for a free stream: meanwhile the queue fills the next batch
            batch, stop = await self._collect()
            if not batch:
                free.release()
                continue
            task = asyncio.create_task(self._run(batch))
            task.add_done_callback(finished)
            self._running.add(task)
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
            self._queue.put_nowait(None)
            await self._task
        self._executor.shutdown(wait=True)
        log.info("batcher closed: %r", self)
