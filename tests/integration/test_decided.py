"""Decided comments and reversals (#25 item 1): the views, newest first, and a reversal that is audited, delivered
and counted by the latest state."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from httpx import Response

from service.config import PolicySettings, WebhookSettings
from tests.conftest import auth
from tests.utils.processes import WebhookReceiver, wait_for


def _status(client: TestClient, comment_id: str) -> dict[str, object]:
    return client.get(f"/v1/comments/{comment_id}", headers=auth("pk-a")).json()


def _view(client: TestClient, view: str, **params: str) -> list[dict[str, object]]:
    response = client.get(f"/v1/decided/{view}", params=params, headers=auth("mk-a"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_decided_views_and_a_reversal_with_its_reason(make_client: Callable[..., TestClient]) -> None:
    strict = PolicySettings(review={"toxicity": 0.3}, reject={"toxicity": 0.6})
    with WebhookReceiver() as receiver:
        hook = WebhookSettings(url=receiver.url, secret="s", allow=["127.0.0.1"])
        client = make_client(inprocess_worker=True, policies={"tenant-a": strict}, webhooks={"tenant-a": hook})
        batch = [
            {"id": "fine", "text": "Thanks for the clear reporting on the budget.", "thread_id": "t"},
            {"id": "rude", "text": "You are a complete idiot and a liar.", "thread_id": "t"},
        ]
        assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
        wait_for(lambda: all(_status(client, c["id"])["status"] == "decided" for c in batch), 60, "model decisions")
        assert [i["id"] for i in _view(client, "unmoderated")] == ["fine"]
        (rejected,) = _view(client, "rejected")
        assert rejected["id"] == "rude" and rejected["decided_by"] == "model" and rejected["decision"] == "reject"

        # a reversal needs a reason, must change something, and is not an escalation
        def decide(body: dict[str, object]) -> Response:
            return client.post("/v1/comments/rude/decision", json={**body, "reverse": True}, headers=auth("mk-a"))

        # without `reverse`, a decided comment is not in a queue (two moderators racing never overturn each other)
        plain = client.post(
            "/v1/comments/rude/decision", json={"decision": "approve", "reason": "x"}, headers=auth("mk-a")
        )
        assert plain.status_code == 409 and plain.json()["error"]["code"] == "not_in_queue"
        assert decide({"decision": "approve"}).json()["error"]["code"] == "reason_required"
        assert decide({"decision": "reject", "reason": "again"}).json()["error"]["code"] == "unchanged"
        assert decide({"decision": "escalate", "reason": "x"}).status_code == 409
        reversed_ = decide({"decision": "approve", "reason": "satire, not an attack"})
        assert reversed_.status_code == 200 and reversed_.json()["previous"] == "reject"

        assert _view(client, "rejected") == []
        (approved,) = _view(client, "approved")
        assert approved["decided_by"] == "moderator-1" and approved["decision_reason"] == "satire, not an attack"
        audit = client.get("/v1/audit", params={"comment_id": "rude"}, headers=auth("mk-a")).json()["items"]
        assert [e["action"] for e in audit][:2] in (["approve", "reject"], ["reject", "approve"])
        latest = max(audit, key=lambda e: e["at"])
        assert latest["action"] == "approve" and latest["previous_decision"] == "reject"
        # the platform hears the new decision through the same signed webhook
        wait_for(lambda: any(b"approve" in d["body"] for d in receiver.received), 30, "the reversal's webhook")


def test_decided_pages_follow_the_cursor_newest_first(make_client: Callable[..., TestClient]) -> None:
    client = make_client(inprocess_worker=True)
    texts = ["Thanks for the report.", "Good to know, thank you.", "Clear and fair article.", "Well written piece."]
    for i, text in enumerate(texts):  # one at a time, so each has its own decision time
        body = {"comments": [{"id": f"u{i}", "text": text, "thread_id": "pages"}]}
        assert client.post("/v1/comments", json=body, headers=auth("pk-a")).status_code == 202
        wait_for(lambda i=i: _status(client, f"u{i}")["status"] == "decided", 60, "the model's decision")
    seen, cursor = [], None
    for _ in range(6):
        params = {"limit": "1", "thread": "pages", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/decided/unmoderated", params=params, headers=auth("mk-a")).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["u3", "u2", "u1", "u0"]
    bad = client.get("/v1/decided/unmoderated", params={"cursor": "nope"}, headers=auth("mk-a"))
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_cursor"
    assert client.get("/v1/decided/everything", headers=auth("mk-a")).status_code == 422
    assert client.get("/v1/decided/approved", headers=auth("pk-a")).status_code == 403
