"""What erasing an author costs as a tenant grows: found by their index, against found by a scan of the keyspace.

A real redis-server (the embedded one) holds a tenant with N stored comments by 1,000 authors (N / 1,000 each); each
erasure request (`erasure.erase_author`, what DELETE /v1/authors/{id} runs) removes one author. "scan" is how every
author was found before each comment joined its author's index as it was stored, and how a tenant not yet indexed by a
worker still is; "index" is the path once it is.

Run: `python -m bench.erasure` (`--sizes 10000 100000 300000 --repeats 5`).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from bench.common import embedded_redis, main_over_sizes
from service import redis_keys as keys
from service.moderation.erasure import erase_author, index_authors
from service.moderation.records import IncomingComment, Records

TENANT = "bench"
AUTHORS = 1000
PER_REQUEST = 256


async def _fill(records: Records, start: int, stop: int) -> None:
    for first in range(start, stop, PER_REQUEST):
        batch = [
            IncomingComment(
                id=f"c{i}", text=f"Comment {i} on the budget.", thread_id=f"t{i % 500}", author_id=f"a{i % AUTHORS}"
            )  # fmt: skip
            for i in range(first, min(first + PER_REQUEST, stop))
        ]
        await records.accept(TENANT, batch)


async def _erase_ms(records: Records, authors: list[str]) -> list[float]:
    took = []
    for author in authors:
        started = time.perf_counter()
        done = await erase_author(records, TENANT, author, actor="bench")
        took.append((time.perf_counter() - started) * 1000)
        assert done["comments_erased"] > 0, done
    return took


async def run(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    rows = []
    async with embedded_redis() as redis:
        records = Records(redis, max_backlog=10**9)
        stored, next_author = 0, 0
        for size in sizes:
            await _fill(records, stored, size)
            stored = size
            held = int(await redis.xlen(keys.ingest(TENANT)))
            authors = [f"a{next_author + i}" for i in range(2 * repeats)]
            next_author += 2 * repeats
            await redis.delete(keys.authors_indexed(TENANT))  # as a tenant no worker has indexed yet
            scan = await _erase_ms(records, authors[:repeats])
            await index_authors(redis, TENANT)
            index = await _erase_ms(records, authors[repeats:])
            dbsize = int(await redis.dbsize())
            rows.append({
                "comments stored": held, "keys in redis": dbsize, "the author's comments": held // AUTHORS,
                "erase an author, scan: median ms": round(statistics.median(scan), 1),
                "index: median ms": round(statistics.median(index), 1),
                "ratio": round(statistics.median(scan) / statistics.median(index), 1),
            })  # fmt: skip
    return rows


if __name__ == "__main__":
    main_over_sizes(__doc__, "erasure", run, {"authors": AUTHORS})
