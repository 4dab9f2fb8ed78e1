"""A Coral Talk site on loopback, as far as Moderato's round trip reaches it: its GraphQL API at /api/graphql,
which checks the access token and runs every request through graphql-core against Coral's schema
(tests/utils/coral_schema.graphql), so a query or mutation Coral would refuse is refused here too."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from graphql import build_schema, graphql_sync

from tests.utils.processes import LoopbackServer, answer_json

SCHEMA = build_schema((Path(__file__).parent / "coral_schema.graphql").read_text())


@dataclass
class StoredComment:
    id: str
    body: str
    author: str
    story: str
    parent: str | None = None
    revisions: list[str] = field(default_factory=list)
    status: str = "NONE"


class CoralSite(LoopbackServer):
    """Comments are added by the test (``add``, ``edit``), as Coral would store them after its phases ran."""

    def __init__(self, token: str, *, fail_first: int = 0) -> None:
        self.token = token
        self.comments: dict[str, StoredComment] = {}
        self.moderated: list[tuple[str, str, str]] = []  # (mutation, comment id, revision id), in order
        self.refused: list[str] = []  # requests refused: bad token, invalid GraphQL
        self.fail_first = fail_first  # answer the first calls with HTTP 500 (a Coral restarting)
        self.calls = 0
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status, answer = site.handle(self.path, self.headers.get("authorization", ""), body)
                answer_json(self, status, answer)

            def log_message(self, *args: object) -> None:
                pass

        self._serve(Handler)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, comment_id: str, body: str, *, author: str, story: str, parent: str | None = None) -> None:
        self.comments[comment_id] = StoredComment(comment_id, body, author, story, parent, [f"{comment_id}-r1"])

    def edit(self, comment_id: str, body: str) -> None:
        stored = self.comments[comment_id]
        stored.body = body
        stored.revisions.append(f"{comment_id}-r{len(stored.revisions) + 1}")

    def handle(self, path: str, authorization: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls += 1
            if self.calls <= self.fail_first:
                return 500, {"error": "restarting"}
            if path != "/api/graphql":
                return 404, {"error": "not found"}
            if authorization != f"Bearer {self.token}":
                self.refused.append("token")
                return 401, {"errors": [{"message": "not authorized"}]}
            request = json.loads(raw)
            result = graphql_sync(
                SCHEMA,
                request["query"],
                root_value=self,
                variable_values=request.get("variables"),
                operation_name=request.get("operationName"),
            )
            if result.errors:
                self.refused.extend(e.message for e in result.errors)
                return 200, {"errors": [{"message": e.message} for e in result.errors]}
            return 200, {"data": result.data}

    # root resolvers: graphql-core calls root_value's attributes with (info, **arguments)
    def comment(self, _info: Any, id: str) -> dict[str, Any] | None:  # noqa: A002 (the schema's argument name)
        stored = self.comments.get(id)
        return self._node(stored) if stored else None

    def approveComment(self, _info: Any, input: dict[str, str]) -> dict[str, Any]:  # noqa: N802, A002
        return self._moderate("approveComment", "APPROVED", input)

    def rejectComment(self, _info: Any, input: dict[str, str]) -> dict[str, Any]:  # noqa: N802, A002
        return self._moderate("rejectComment", "REJECTED", input)

    def _moderate(self, mutation: str, status: str, given: dict[str, str]) -> dict[str, Any]:
        stored = self.comments.get(given["commentID"])
        if stored is None or given["commentRevisionID"] not in stored.revisions:
            raise ValueError("comment or revision not found")
        stored.status = status
        self.moderated.append((mutation, stored.id, given["commentRevisionID"]))
        return {"comment": self._node(stored), "clientMutationId": given["clientMutationId"]}

    def _node(self, stored: StoredComment) -> dict[str, Any]:
        parent = self.comments.get(stored.parent) if stored.parent else None
        return {
            "id": stored.id,
            "body": stored.body,
            "revision": {"id": stored.revisions[-1]},
            "author": {"id": stored.author, "username": f"Reader {stored.author}"},
            "story": {"id": stored.story, "url": f"https://news.example/{stored.story}"},
            "parent": self._node(parent) if parent else None,
            "status": stored.status,
        }
