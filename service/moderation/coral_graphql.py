"""Coral Talk's GraphQL API, as much of it as the round trip needs: read a comment (its text, author, story and
latest revision), and approve or reject it as a moderator, with an access token the tenant configures.

The operations are written against Coral's published schema (``comment(id: ID!): Comment``,
``approveComment(input: ApproveCommentInput!)`` and ``rejectComment(input: RejectCommentInput!)``, whose inputs
take ``commentID``, ``commentRevisionID`` and Relay's ``clientMutationId``); tests/utils/coral_schema.graphql holds
the part of that schema they touch, and the test's Coral validates every request against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from service.config import CoralSiteSettings
from service.moderation.targets import AllowList, delivery_error, post_checked

TIMEOUT_S = 10.0  # one GraphQL call in total

COMMENT_QUERY = """
query ModeratoComment($id: ID!) {
  comment(id: $id) { id body revision { id } author { id username } story { id url } parent { id } }
}
"""
MUTATIONS = {
    "approve": """
mutation ModeratoApprove($input: ApproveCommentInput!) {
  approveComment(input: $input) { clientMutationId comment { id status } }
}
""",
    "reject": """
mutation ModeratoReject($input: RejectCommentInput!) {
  rejectComment(input: $input) { clientMutationId comment { id status } }
}
""",
}


class CoralError(Exception):
    """Coral did not do what was asked: unreachable, refused, or answered with GraphQL errors."""


@dataclass(frozen=True)
class CoralComment:
    id: str
    body: str
    revision_id: str | None
    author_id: str | None
    author_name: str | None  # the name the author goes by in Coral (its phase sends only the id)
    story_id: str | None
    parent_id: str | None


class CoralGraphQL:
    """One Coral site's GraphQL API, reached only at addresses the tenant's allow-list admits (as webhooks are)."""

    def __init__(
        self, site: CoralSiteSettings, allow: AllowList, client: httpx.AsyncClient, *, timeout_s: float = TIMEOUT_S
    ) -> None:
        self.site = site
        self.allow = allow
        self.client = client
        self.timeout_s = timeout_s

    async def comment(self, coral_id: str) -> CoralComment | None:
        """The comment as Coral holds it now (None: Coral has no such comment)."""
        data = await self._call(COMMENT_QUERY, {"id": coral_id})
        node = data.get("comment")
        if not isinstance(node, dict):
            return None
        return CoralComment(
            id=str(node["id"]),
            body=str(node.get("body") or ""),
            revision_id=_id_of(node.get("revision")),
            author_id=_id_of(node.get("author")),
            author_name=_username(node.get("author")),
            story_id=_id_of(node.get("story")),
            parent_id=_id_of(node.get("parent")),
        )

    async def moderate(self, coral_id: str, action: str, mutation_id: str) -> None:
        """Approve or reject the comment's latest revision (an edit after the decision is Coral's to judge anew:
        Coral runs its phases, Moderato's included, on every edit)."""
        comment = await self.comment(coral_id)
        if comment is None or comment.revision_id is None:
            raise CoralError(f"Coral has no comment {coral_id!r}")
        variables = {
            "input": {"commentID": coral_id, "commentRevisionID": comment.revision_id, "clientMutationId": mutation_id}
        }
        await self._call(MUTATIONS[action], variables)

    async def _call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {
            "content-type": "application/json",
            "authorization": f"Bearer {self.site.access_token.get_secret_value()}",
        }
        try:
            response = await post_checked(
                self.client, self.site.graphql_url, self.allow, content=body, headers=headers, timeout_s=self.timeout_s
            )
        except Exception as exc:
            raise CoralError(delivery_error(exc)) from exc
        if response.status_code != 200:
            raise CoralError(f"Coral answered HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise CoralError("Coral's answer is not JSON") from exc
        if answer.get("errors"):  # GraphQL reports failures in the body, with HTTP 200
            messages = "; ".join(str(e.get("message", e))[:200] for e in answer["errors"][:3])
            raise CoralError(f"Coral refused: {messages}")
        data = answer.get("data")
        return data if isinstance(data, dict) else {}


def _username(author: Any) -> str | None:
    name = author.get("username") if isinstance(author, dict) else None
    return str(name)[:200] if name else None


def _id_of(node: Any) -> str | None:
    return str(node["id"]) if isinstance(node, dict) and node.get("id") else None
