"""Search with replicas on several machines (#25 item 3): one replica keeps the index and its worker indexes every
tenant's comments; the others send /v1/search to it with the caller's own credentials, and their workers leave
indexing to it. Here the search replica is a real `moderato serve` process, the other an app on the same Redis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from service.redis_server import EmbeddedRedis
from tests.conftest import auth
from tests.utils.processes import free_port, start_serve, wait_for, wait_until_ready

pytestmark = pytest.mark.slow


def test_a_replica_without_the_index_asks_the_one_that_keeps_it(
    make_client: Callable[..., TestClient], redis_server: EmbeddedRedis, redis_client: redis.Redis, tmp_path: Path
) -> None:
    node_dir = tmp_path / "search-node"
    node_dir.mkdir()
    port = free_port()
    node = start_serve(redis_server.url, port, node_dir / "serve.log")  # keeps <its data dir>/search.db
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url)
        other = make_client(inprocess_worker=True, search_url=url)  # another machine's replica: no index of its own
        batch = [
            {"id": "r1", "text": "The ferry timetable changed again without notice.", "thread_id": "t"},
            {"id": "r2", "text": "Ferry staff were helpful, thanks.", "thread_id": "t", "author_id": "kim"},
        ]
        assert other.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202

        def found(**params: str) -> list[str]:
            answer = other.get("/v1/search", params=params, headers=auth("mk-a"))
            assert answer.status_code == 200, answer.text
            return [i["id"] for i in answer.json()["items"]]

        wait_for(lambda: found(q="ferry") == ["r2", "r1"], 90, "both comments searchable through the other replica")
        assert found(q="ferry", author="kim") == ["r2"]
        assert other.get("/v1/search", params={"q": "ferry"}, headers=auth("mk-b")).json()["items"] == []
        assert other.get("/v1/search", params={"q": "ferry"}, headers=auth("pk-a")).status_code == 403
        assert not (tmp_path / "search.db").exists()  # the other replica never made an index of its own
    finally:
        node.terminate()
        node.wait(timeout=60)
    down = other.get("/v1/search", params={"q": "ferry"}, headers=auth("mk-a"))
    assert down.status_code == 503 and down.json()["error"]["code"] == "search_unavailable"
