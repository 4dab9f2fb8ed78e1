"""Search (#25 item 3): stored comments by their words, author and time, newest first, from the index every process
on the machine shares; fed durably by the worker (nothing stored is left out of it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import auth
from tests.utils.processes import wait_for

COMMENTS = [
    ("s1", "The library budget vote was rigged by the council.", "ann", "Ann Reader"),
    ("s2", "Those councillors insulted every reader at the meeting.", "bob", "Bob Smith"),
    ("s3", "I read the budget report twice; the numbers add up.", "ann", "Ann Reader"),
    ("s4", "Nothing about libraries here, just a recipe for bread.", "cat", "Cat"),
]


def _search(client: TestClient, key: str = "mk-a", **params: Any) -> Any:
    return client.get("/v1/search", params=params, headers=auth(key))


def _ids(client: TestClient, **params: Any) -> list[str]:
    return [i["id"] for i in _search(client, **params).json()["items"]]


def test_comments_are_found_by_words_author_and_time(make_client: Callable[..., TestClient]) -> None:
    client = make_client(inprocess_worker=True)
    began = time.time()
    batch = [{"id": i, "text": t, "thread_id": "budget", "author_id": a, "author_name": n} for i, t, a, n in COMMENTS]
    assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(lambda: len(_ids(client, since=began - 1)) == 4 and _search(client).json()["pending"] == 0, 60, "indexed")

    assert _ids(client, q="budget") == ["s3", "s1"]  # newest first
    assert _ids(client, q="insults") == ["s2"]  # stemmed: "insulted"
    assert _ids(client, q="budget numbers") == ["s3"]  # every word must occur
    assert _ids(client, q='"budget vote"') == ["s1"]  # a phrase as written
    assert _ids(client, q="counc*") == ["s2", "s1"]  # a prefix
    assert _ids(client, author="ann") == ["s3", "s1"]  # an author by id ...
    assert _ids(client, author="Bob Smith") == ["s2"]  # ... or by display name
    assert _ids(client, q="budget", author="bob") == []
    assert _ids(client, q="NEAR(budget council)") == []  # FTS5's syntax is read as plain words, never run
    assert _ids(client, until=began - 1) == []

    first = _search(client, limit=2).json()
    assert [i["id"] for i in first["items"]] == ["s4", "s3"] and first["next_cursor"]
    second = _search(client, limit=2, cursor=first["next_cursor"]).json()
    assert [i["id"] for i in second["items"]] == ["s2", "s1"] and second["next_cursor"] is None

    item = _search(client, q="rigged").json()["items"][0]
    assert item["author_name"] == "Ann Reader" and "toxicity" in item["scores"] and item["thread_id"] == "budget"
    assert _search(client, key="mk-b", q="budget").json()["items"] == []  # another tenant sees none of it
    assert _search(client, key="pk-a", q="budget").status_code == 403  # moderators search, platforms do not
    assert _search(client, q='""').json()["error"]["code"] == "invalid_query"
    assert _search(client, cursor="not-a-cursor").json()["error"]["code"] == "invalid_cursor"
