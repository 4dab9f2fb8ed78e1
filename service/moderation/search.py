"""Finding stored comments by their words, their author and a time range.

The engine is SQLite's FTS5 full-text index (in Python's standard library: no server to run), in one file that every
API process and worker on the machine opens (``MODERATO_SEARCH_PATH``, default ``<data dir>/search.db``, WAL mode:
readers never wait for the writer). A deployment whose replicas run on several machines points them all at one file
on storage they share, or runs search on one machine: see deploy/README.md.

Feeding it is durable and idempotent: the script that stores a scored result also adds the comment to the tenant's
``search_pending`` set in Redis, in the same atomic step; a worker's indexer takes pending comments in batches,
writes them to the index (an upsert: an edited comment replaces its old text) and only then removes them from the
set, so a crash at any point leaves them pending and nothing is lost. An erased comment (Records.erase) is queued
the same way, in the script that deletes its record: the indexer, finding no record, deletes it from the index.
``moderato search-reindex`` rebuilds the index of a tenant from Redis.

Queries: ``q`` is a list of words (each must occur, in any form FTS5's porter stemmer reads as the same word; a
quoted phrase must occur as written; ``word*`` is a prefix), newest first, paged by a cursor. A comment's row id is
its time, so newest-first is the index's own order: a search stops after its page even when a common word matches
a hundred thousand comments.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import redis.asyncio as aioredis

from service import redis_keys as keys
from service.errors import InvalidInput
from service.redis_client import UNAVAILABLE, cancel_requested, stop_if_cancelled, text, text_map

log = logging.getLogger(__name__)

INDEX_BATCH = 500  # comments indexed per transaction
IDLE_S = 1.0  # the indexer's pause when nothing is pending
TOKEN = re.compile(r'"[^"]+"|\S+')

SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
  rowid INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  comment_id TEXT NOT NULL,
  author_id TEXT NOT NULL DEFAULT '',
  author_name TEXT NOT NULL DEFAULT '',
  thread_id TEXT NOT NULL DEFAULT '',
  at REAL NOT NULL,
  text TEXT NOT NULL,
  UNIQUE (tenant, comment_id)
);
CREATE INDEX IF NOT EXISTS docs_by_tenant ON docs (tenant);
CREATE INDEX IF NOT EXISTS docs_by_author ON docs (tenant, author_id);
CREATE INDEX IF NOT EXISTS docs_by_author_name ON docs (tenant, author_name);
CREATE VIRTUAL TABLE IF NOT EXISTS docs_fts USING fts5(
  text, author_name, content='docs', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS docs_ai AFTER INSERT ON docs BEGIN
  INSERT INTO docs_fts(rowid, text, author_name) VALUES (new.rowid, new.text, new.author_name);
END;
CREATE TRIGGER IF NOT EXISTS docs_ad AFTER DELETE ON docs BEGIN
  INSERT INTO docs_fts(docs_fts, rowid, text, author_name) VALUES ('delete', old.rowid, old.text, old.author_name);
END;
CREATE TRIGGER IF NOT EXISTS docs_au AFTER UPDATE ON docs BEGIN
  INSERT INTO docs_fts(docs_fts, rowid, text, author_name) VALUES ('delete', old.rowid, old.text, old.author_name);
  INSERT INTO docs_fts(rowid, text, author_name) VALUES (new.rowid, new.text, new.author_name);
END;
"""


@dataclass(frozen=True)
class Doc:
    comment_id: str
    text: str
    at: float
    author_id: str = ""
    author_name: str = ""
    thread_id: str = ""


@dataclass(frozen=True)
class Hits:
    ids: list[str]
    next_cursor: str | None


def fts_query(q: str) -> str:
    """The user's words as an FTS5 query: every word must occur; quotes keep a phrase; a trailing * is a prefix.
    Everything else is quoted, so FTS5's own syntax (NEAR, column filters, ^) cannot be injected or break it."""
    terms = []
    for token in TOKEN.findall(q):
        prefix = token.endswith("*") and not token.startswith('"')
        word = token.strip('"').rstrip("*").replace('"', " ").strip()
        if word:
            terms.append(f'"{word}"' + ("*" if prefix else ""))
    if not terms:
        raise InvalidInput("the search has no words", code="invalid_query")
    return " AND ".join(terms)


class SearchIndex:
    """The FTS5 index file; its calls block, so the async wrappers run them on a thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.executescript(SCHEMA)

    @contextlib.contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = getattr(self._local, "db", None)
        if db is None:  # one connection per thread (sqlite3's rule), kept for the thread's life
            db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA secure_delete=ON")  # a deleted (erased) text's pages are zeroed, not left in the file
            self._local.db = db
        yield db

    def index_now(self, tenant: str, docs: list[Doc]) -> None:
        """Add or replace these comments. A comment's row id is its time in microseconds (made unique), so every
        search reads newest first straight from the index and stops at its page, however many comments match."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                for d in docs:
                    row = (d.author_id, d.author_name, d.thread_id, d.at, d.text)
                    updated = db.execute(
                        "UPDATE docs SET author_id = ?, author_name = ?, thread_id = ?, at = ?, text = ?"
                        " WHERE tenant = ? AND comment_id = ?",
                        [*row, tenant, d.comment_id],
                    ).rowcount
                    if not updated:
                        self._insert(db, tenant, d)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def remove_now(self, tenant: str, comment_ids: list[str]) -> int:
        """Delete erased comments for good: their rows, their words in the full-text index (merged away with
        ``optimize``: a plain delete only marks them, and the old segments keep the words until a merge), and, with
        the WAL checkpointed, every old copy of those pages. Returns how many were indexed."""
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                removed = sum(
                    db.execute("DELETE FROM docs WHERE tenant = ? AND comment_id = ?", [tenant, cid]).rowcount
                    for cid in comment_ids
                )
                if removed:
                    db.execute("INSERT INTO docs_fts(docs_fts) VALUES ('optimize')")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            if removed:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return removed

    @staticmethod
    def _insert(db: sqlite3.Connection, tenant: str, d: Doc) -> None:
        rowid = row_of(d.at)
        while True:  # two comments in one microsecond: the later takes the next free id
            try:
                db.execute(
                    "INSERT INTO docs (rowid, tenant, comment_id, author_id, author_name, thread_id, at, text)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [rowid, tenant, d.comment_id, d.author_id, d.author_name, d.thread_id, d.at, d.text],
                )
                return
            except sqlite3.IntegrityError:
                rowid += 1

    def search_now(
        self,
        tenant: str,
        *,
        q: str | None,
        author: str | None,
        since: float | None,
        until: float | None,
        limit: int,
        cursor: str | None,
    ) -> Hits:
        where: list[str] = ["d.tenant = ?"]
        args: list[object] = [tenant]
        rowid = "docs_fts.rowid" if q else "d.rowid"  # FTS5 walks its matches by row id, newest first
        if author:
            # by id or by name, each through its own index (an OR of the two would scan the tenant's comments)
            # (with words, FTS5 then checks only the author's rows: ~4x faster than filtering its matches)
            where.append(
                f"{rowid} IN (SELECT rowid FROM docs WHERE tenant = ? AND author_id = ?"
                " UNION SELECT rowid FROM docs WHERE tenant = ? AND author_name = ?)"
            )
            args += [tenant, author, tenant, author]
        if since is not None:
            where.append(f"{rowid} >= ?")
            args.append(row_of(since))
        if until is not None:
            where.append(f"{rowid} < ?")
            args.append(row_of(until))
        if cursor:
            if not cursor.isdigit() or len(cursor) > 18:  # a row id: microseconds, within SQLite's 64 bits
                message = "bad cursor: pass a page's next_cursor back unchanged"
                raise InvalidInput(message, code="invalid_cursor")
            where.append(f"{rowid} < ?")
            args.append(int(cursor))
        source = "docs d"
        if q:
            source = "docs_fts JOIN docs d ON d.rowid = docs_fts.rowid"
            where.insert(0, "docs_fts MATCH ?")
            args.insert(0, fts_query(q))
        sql = f"SELECT d.comment_id, {rowid} FROM {source} WHERE {' AND '.join(where)} ORDER BY {rowid} DESC LIMIT ?"
        try:
            with self._connection() as db:
                rows = db.execute(sql, [*args, limit + 1]).fetchall()
        except (sqlite3.OperationalError, sqlite3.ProgrammingError, UnicodeEncodeError, OverflowError) as exc:
            # words FTS5 cannot parse even quoted (control characters), text that is not Unicode: the caller's
            raise InvalidInput("the search could not be read: use plain words", code="invalid_query") from exc
        more = len(rows) > limit
        rows = rows[:limit]
        return Hits([r[0] for r in rows], str(rows[-1][1]) if more and rows else None)

    def count_now(self, tenant: str) -> int:
        with self._connection() as db:
            return int(db.execute("SELECT count(*) FROM docs WHERE tenant = ?", [tenant]).fetchone()[0])

    async def index(self, tenant: str, docs: list[Doc]) -> None:
        if docs:
            await asyncio.to_thread(self.index_now, tenant, docs)

    async def remove(self, tenant: str, comment_ids: list[str]) -> int:
        return await asyncio.to_thread(self.remove_now, tenant, comment_ids) if comment_ids else 0

    async def search(
        self,
        tenant: str,
        *,
        q: str | None = None,
        author: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Hits:
        return await asyncio.to_thread(
            self.search_now, tenant, q=q, author=author, since=since, until=until, limit=limit, cursor=cursor
        )


def row_of(at: float) -> int:
    """The row id of a comment received at ``at`` (epoch seconds): microseconds."""
    return int(at * 1_000_000)


def doc_of(record: dict[str, str]) -> Doc | None:
    """A stored comment as the index keeps it (None: no text stored)."""
    if not record.get("text") or not record.get("id"):
        return None
    return Doc(
        comment_id=record["id"],
        text=record["text"].encode("utf-8", "replace").decode("utf-8"),  # never a text SQLite cannot store
        at=float(record.get("received_at") or 0),
        author_id=record.get("author_id", ""),
        author_name=record.get("author_name", ""),
        thread_id=record.get("thread_id", ""),
    )


# KEYS[1] pending set. ARGV: (id, score) pairs. Removes each id only if it is still pending with the score that was
# read: a comment edited and stored again meanwhile stays pending, for its new text.
DONE = """
local n = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    redis.call('ZREM', KEYS[1], ARGV[i]); n = n + 1
  end
end
return n
"""


class SearchIndexer:
    """Moves comments from each tenant's pending set into the index (run by every worker; idempotent)."""

    def __init__(self, redis: aioredis.Redis, index: SearchIndex) -> None:
        self.redis = redis
        self.index = index
        self._done = redis.register_script(DONE)
        self.indexed = 0

    async def run_once(self, tenant: str) -> int:
        """Index one batch of the tenant's pending comments; returns how many."""
        pending = cast(
            list[tuple[bytes, float]],
            await self.redis.zrange(keys.search_pending(tenant), 0, INDEX_BATCH - 1, withscores=True),
        )
        if not pending:
            return 0
        ids = [text(member) for member, _ in pending]
        async with self.redis.pipeline(transaction=False) as pipe:
            for comment_id in ids:
                pipe.hgetall(keys.comment(tenant, comment_id))
            records = [text_map(r) for r in await pipe.execute()]
        docs = [d for d in (doc_of(r) for r in records) if d is not None]
        await self.index.index(tenant, docs)
        # a pending comment with no record was erased (Records.erase queues it here): its text leaves the index
        await self.index.remove(tenant, [cid for cid, record in zip(ids, records, strict=True) if not record])
        args: list[str] = []
        for member, score in pending:
            args += [text(member), repr(score)]
        await self._done(keys=[keys.search_pending(tenant)], args=args)
        self.indexed += len(docs)
        return len(pending)

    async def run(self, tenants: Callable[[], list[str]], *, idle_s: float = IDLE_S) -> None:
        """Index forever: each round, every tenant's pending comments, pausing only when none were pending."""
        while True:
            stop_if_cancelled()
            busy = False
            for tenant in list(tenants()):
                try:
                    busy = await self.run_once(tenant) > 0 or busy
                except UNAVAILABLE as exc:
                    if cancel_requested():  # a cancelled Redis read can surface as a connection error
                        raise asyncio.CancelledError from exc
                    log.warning("search indexing for %s waits: redis unavailable (%s)", tenant, type(exc).__name__)
                except Exception as exc:
                    if cancel_requested():
                        raise asyncio.CancelledError from exc
                    log.exception("search indexing for %s failed; its comments stay pending", tenant)
            if not busy:
                await asyncio.sleep(idle_s)


async def reindex(redis: aioredis.Redis, index: SearchIndex, tenant: str) -> int:
    """Queue every stored comment of the tenant for indexing again (``moderato search-reindex``); returns how many."""
    count = 0
    now = time.time()
    prefix = keys.comment(tenant, "")
    async for key in redis.scan_iter(match=prefix + "*", count=1000):
        await redis.zadd(keys.search_pending(tenant), {text(key)[len(prefix) :]: now})
        count += 1
    indexer = SearchIndexer(redis, index)
    while await indexer.run_once(tenant):
        pass
    return count
