import asyncio
import threading
import time

import pytest

from service.scoring.batcher import BatcherClosed, MicroBatcher


def _double(items: list[int]) -> list[int]:
    time.sleep(0.01)
    return [2 * i for i in items]


async def test_concurrent_requests_are_coalesced_and_answered_in_order() -> None:
    sizes: list[int] = []
    batcher: MicroBatcher[int, int] = MicroBatcher(
        _double, max_items=8, max_wait_ms=20, on_batch=lambda n, s: sizes.append(n)
    )
    batcher.start()
    results = await asyncio.gather(*(batcher.submit_many([i, i + 100]) for i in range(10)))
    assert results == [[2 * i, 2 * (i + 100)] for i in range(10)]
    assert max(sizes) == 8 and sum(sizes) == 20 and len(sizes) < 10
    await batcher.close()


async def test_lone_item_waits_at_most_max_wait() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: items, max_items=32, max_wait_ms=5)
    batcher.start()
    start = time.perf_counter()
    assert await batcher.submit_many([1]) == [1]
    assert time.perf_counter() - start < 0.5
    await batcher.close()


async def test_failed_batch_fails_its_requests_only() -> None:
    def flaky(items: list[int]) -> list[int]:
        if 13 in items:
            raise ValueError("bad batch")
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(flaky, max_items=1, max_wait_ms=1)
    batcher.start()
    with pytest.raises(ValueError):
        await batcher.submit_many([13])
    assert await batcher.submit_many([7]) == [7]
    await batcher.close()


async def test_close_finishes_queued_work_then_refuses_more() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(_double, max_items=2, max_wait_ms=1)
    batcher.start()
    work = asyncio.gather(*(batcher.submit_many([i]) for i in range(6)))
    await asyncio.sleep(0)
    await batcher.close()
    assert await work == [[2 * i] for i in range(6)]
    with pytest.raises(BatcherClosed):
        await batcher.submit_many([1])


async def test_items_queued_behind_a_running_batch_do_not_wait_again() -> None:
    """The wait runs from the first item's arrival: work that queued during a slow batch starts as soon as it ends."""
    started: list[float] = []

    def slow(items: list[int]) -> list[int]:
        started.append(time.perf_counter())
        time.sleep(0.3)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(slow, max_items=32, max_wait_ms=200)
    batcher.start()
    first = asyncio.ensure_future(batcher.submit_many([1]))
    await asyncio.sleep(0.25)  # the first batch (closed after its 200 ms wait) is running now
    second = await batcher.submit_many([2])
    assert await first == [1] and second == [2]
    # the second item arrived ~50 ms into the first batch's 300 ms run; its own 200 ms had passed by the end
    assert started[1] - started[0] < 0.3 + 0.1
    await batcher.close()


async def test_streams_run_batches_concurrently_and_keep_each_answer_with_its_request() -> None:
    active, peak = 0, 0
    lock = threading.Lock()

    def tracked(items: list[int]) -> list[int]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return [3 * i for i in items]

    batcher: MicroBatcher[int, int] = MicroBatcher(tracked, max_items=2, max_wait_ms=1, streams=2)
    batcher.start()
    results = await asyncio.gather(*(batcher.submit_many([i]) for i in range(12)))
    assert results == [[3 * i] for i in range(12)]
    assert peak == 2
    await batcher.close()


async def test_a_burst_on_idle_streams_is_shared_out_among_them() -> None:
    sizes: list[int] = []
    lock = threading.Lock()

    def record(items: list[int]) -> list[int]:
        with lock:
            sizes.append(len(items))
        time.sleep(0.05)
        return items

    batcher: MicroBatcher[int, int] = MicroBatcher(record, max_items=32, max_wait_ms=0, streams=2)
    batcher.start()
    assert await batcher.submit_many(list(range(32))) == list(range(32))
    assert sorted(sizes) == [16, 16]
    await batcher.close()


async def test_a_lone_item_of_another_lane_does_not_wait_behind_a_backlog() -> None:
    """One tenant queues 40 items of work; another's single item is in the very next batch, not the last."""
    batches: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        batches.append(items)
        time.sleep(0.02)
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(run, max_items=4, max_wait_ms=1)
    batcher.start()
    backlog = asyncio.ensure_future(batcher.submit_many([f"heavy-{i}" for i in range(40)], lane="a"))
    await asyncio.sleep(0.03)  # the backlog is being served
    assert await batcher.submit_many(["lone"], lane="b") == ["lone"]
    served_before = next(i for i, b in enumerate(batches) if "lone" in b)
    assert served_before <= 2, batches  # the batch running when it came, then the next one
    await backlog
    await batcher.close()


async def test_lanes_share_the_model_by_work_not_by_item_count() -> None:
    """Lane a sends items costing 4, lane b items costing 1: per batch of work 8, a gets 1 item per 4 of b's."""
    batches: list[list[str]] = []

    def run(items: list[str]) -> list[str]:
        batches.append(items)
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(
        run, max_items=32, max_wait_ms=1, cost=lambda item: 4.0 if item.startswith("a") else 1.0, max_cost=8
    )
    batcher.start()
    await asyncio.gather(
        batcher.submit_many([f"a{i}" for i in range(8)], lane="a"),
        batcher.submit_many([f"b{i}" for i in range(32)], lane="b"),
    )
    assert all(sum(4 if i.startswith("a") else 1 for i in b) <= 8 for b in batches)  # no batch over its work
    first_half = [i for b in batches[: len(batches) // 2] for i in b]
    work_a = 4 * sum(i.startswith("a") for i in first_half)
    work_b = sum(i.startswith("b") for i in first_half)
    assert abs(work_a - work_b) <= 4, batches  # while both are queued, each lane gets about half the work
    await batcher.close()


async def test_an_item_costlier_than_a_batch_still_runs_alone() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: items, max_items=8, max_wait_ms=1, cost=float, max_cost=4
    )
    batcher.start()
    assert await batcher.submit_many([10, 1, 2]) == [10, 1, 2]
    await batcher.close()


async def test_memory_is_given_back_after_a_burst_not_after_every_comment() -> None:
    """on_idle (the heap trim) runs when the batcher goes idle after at least idle_after_cost of work."""
    released = threading.Event()
    calls: list[float] = []

    def release() -> None:
        calls.append(time.perf_counter())
        released.set()

    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: items, max_items=4, max_wait_ms=1, on_idle=release, idle_after_cost=10
    )
    batcher.start()
    for i in range(5):  # five lone comments, idle after each: 5 of work, below 10
        assert await batcher.submit_many([i]) == [i]
        await asyncio.sleep(0.02)
    assert calls == []
    assert await batcher.submit_many(list(range(8))) == list(range(8))  # the burst: 13 in all
    await asyncio.get_running_loop().run_in_executor(None, released.wait, 5)
    assert len(calls) == 1
    await batcher.close()


async def test_a_stream_held_for_short_work_answers_a_short_item_while_long_ones_queue() -> None:
    """Two streams, one held for short work: a neighbour's long items run on one stream at a time, so a short item
    starts at once on the other instead of waiting for a long batch to end."""
    started: dict[str, float] = {}

    def run(items: list[str]) -> list[str]:
        for item in items:
            started[item] = time.perf_counter()
        time.sleep(0.3 if items[0].startswith("long") else 0.01)
        return items

    batcher: MicroBatcher[str, str] = MicroBatcher(
        run, max_items=1, max_wait_ms=1, streams=2, cost=lambda i: 12.0 if i.startswith("long") else 1.0,
        max_cost=8, short_streams=1,
    )  # fmt: skip
    batcher.start()
    burst = asyncio.ensure_future(batcher.submit_many([f"long-{i}" for i in range(4)], lane="a"))
    await asyncio.sleep(0.05)  # one long item runs; the others wait for that stream, never for the held one
    began = time.perf_counter()
    assert await batcher.submit_many(["short"], lane="b") == ["short"]
    assert time.perf_counter() - began < 0.2  # it did not wait for the running long batch (0.3 s)
    await burst
    starts = sorted(started[f"long-{i}"] for i in range(4))
    assert all(b - a >= 0.25 for a, b in zip(starts, starts[1:], strict=False))  # long items: one stream at a time
    await batcher.close()


async def test_with_no_short_work_the_held_stream_idles_and_nothing_is_lost() -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(
        lambda items: items, max_items=2, max_wait_ms=1, streams=2, cost=float, max_cost=8, short_streams=1
    )
    batcher.start()
    assert await batcher.submit_many([5, 6, 7, 1, 8]) == [5, 6, 7, 1, 8]
    work = asyncio.gather(*(batcher.submit_many([n]) for n in (9, 3, 1, 12)))
    await asyncio.sleep(0)
    await batcher.close()  # queued long work still finishes on close
    assert await work == [[9], [3], [1], [12]]
