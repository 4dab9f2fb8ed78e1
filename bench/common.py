"""Shared by the benchmarks: where results go and what machine and commit made them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from service.redis_server import EmbeddedRedis
from service.system import git_commit, machine

RESULTS = Path(__file__).resolve().parent / "results"


def write_result(name: str, table: list[dict[str, Any]], extra: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "command": "python " + " ".join(sys.argv),
        "commit": git_commit(),
        "machine": machine(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        **extra,
        "rows": table,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def print_table(rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print(" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("-|-".join("-" * w for w in widths))
    for r in rows:
        print(" | ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


@asynccontextmanager
async def embedded_redis() -> AsyncIterator[aioredis.Redis]:
    """A client on a fresh real redis-server, started as `moderato serve` starts its embedded one, in a temporary
    folder."""
    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedRedis(Path(folder) / "redis").start()
        redis = aioredis.from_url(server.url)
        try:
            yield redis
        finally:
            await redis.aclose()
            server.stop()


SizedRun = Callable[[list[int], int], Coroutine[Any, Any, list[dict[str, Any]]]]  # (sizes, repeats) -> table rows


def main_over_sizes(doc: str, name: str, run: SizedRun, extra: dict[str, Any]) -> None:
    """A bench over a tenant growing to ``--sizes`` stored comments, ``--repeats`` timings each: prints its table
    and writes it as ``name``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = asyncio.run(run(args.sizes, args.repeats))
    print_table(rows)
    print(write_result(name, rows, {**extra, "repeats": args.repeats}))
