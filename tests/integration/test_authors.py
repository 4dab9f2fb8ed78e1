"""The people behind comments (#25 item 2): an author's name and page, and the standings moderators give them,
enforced on each new comment by the worker and audited."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from service.config import PolicySettings
from tests.conftest import auth
from tests.utils.processes import wait_for

CLEAN = "Thanks for the clear reporting on the budget."
RUDE = "You are a complete idiot and a liar."
EDGY = "That is a pretty dumb take on the budget."


def _post(client: TestClient, *comments: dict[str, Any]) -> None:
    batch = [{"thread_id": "t", **c} for c in comments]
    assert client.post("/v1/comments", json={"comments": batch}, headers=auth("pk-a")).status_code == 202
    wait_for(lambda: all(_comment(client, c["id"])["status"] != "queued" for c in batch), 60, "the worker")


def _comment(client: TestClient, comment_id: str) -> dict[str, Any]:
    return client.get(f"/v1/comments/{comment_id}", headers=auth("pk-a")).json()  # type: ignore[no-any-return]


def _standing(client: TestClient, author: str, **body: Any) -> Any:
    return client.post(f"/v1/authors/{author}/standing", json=body, headers=auth("mk-a"))


def test_an_authors_page_and_standings_enforced_on_new_comments(make_client: Callable[..., TestClient]) -> None:
    policy = PolicySettings(review={"toxicity": 0.3, "insult": 0.3}, reject={"toxicity": 0.8})
    client = make_client(inprocess_worker=True, policies={"tenant-a": policy})
    _post(
        client,
        {"id": "a1", "text": CLEAN, "author_id": "ann", "author_name": "Ann Reader"},
        {"id": "a2", "text": EDGY, "author_id": "ann", "author_name": "Ann R."},
    )
    page = client.get("/v1/authors/ann", headers=auth("mk-a")).json()
    assert page["author_name"] == "Ann R."  # the name they go by now
    assert [c["id"] for c in page["comments"]] == ["a2", "a1"] and page["record"]["comments"] == 2
    assert page["comments"][1]["decision"] == "allow" and page["comments"][1]["scores"]["toxicity"] < 0.3
    assert page["standing"] is None
    held = client.get("/v1/queues/review", headers=auth("mk-a")).json()["items"]
    assert [(i["id"], i["author_name"]) for i in held] == [("a2", "Ann R.")]

    # standings: a reason is required, an end must lie ahead, and a platform key may not give one
    assert _standing(client, "ann", standing="suspended").status_code == 422
    past = _standing(client, "ann", standing="suspended", reason="spam", until=time.time() - 5)
    assert past.status_code == 400 and past.json()["error"]["code"] == "invalid_until"
    forbidden = client.post(
        "/v1/authors/ann/standing", json={"standing": "banned", "reason": "x"}, headers=auth("pk-a")
    )
    assert forbidden.status_code == 403

    suspended = _standing(client, "ann", standing="suspended", reason="doxxing", until=time.time() + 3600)
    assert suspended.status_code == 200 and suspended.json()["standing"]["standing"] == "suspended"
    assert _standing(client, "bob", standing="premoderated", reason="new account").status_code == 200
    assert _standing(client, "cat", standing="trusted", reason="long-time reader").status_code == 200
    _post(
        client,
        {"id": "a3", "text": CLEAN, "author_id": "ann"},
        {"id": "b1", "text": CLEAN, "author_id": "bob"},
        {"id": "c1", "text": EDGY, "author_id": "cat"},
        {"id": "c2", "text": RUDE + " " + RUDE, "author_id": "cat"},
    )
    a3, b1, c1, c2 = (_comment(client, i)["result"] for i in ("a3", "b1", "c1", "c2"))
    assert a3["decision"] == "reject" and a3["reasons"][-1] == "author_suspended"
    assert b1["decision"] == "review" and b1["reasons"] == ["author_premoderated"]
    assert c1["decision"] == "allow" and c1["reasons"][-1] == "author_trusted"  # a review the scores asked for
    assert c2["decision"] == "reject"  # trust never skips a rejection

    # ended: the next comment is decided on its scores alone; every change is in the audit log
    assert _standing(client, "ann", standing="none", reason="appeal granted").json()["standing"] is None
    _post(client, {"id": "a4", "text": CLEAN, "author_id": "ann"})
    assert _comment(client, "a4")["result"]["decision"] == "allow"
    audit = client.get("/v1/audit", headers=auth("ak-a")).json()["items"]
    actions = [(e["author_id"], e["action"], e["reason"]) for e in audit if e.get("author_id")]
    assert actions == [
        ("ann", "author_cleared", "appeal granted"),
        ("cat", "author_trusted", "long-time reader"),
        ("bob", "author_premoderated", "new account"),
        ("ann", "author_suspended", "doxxing"),
    ]
    assert client.get("/v1/authors/ann", headers=auth("mk-a")).json()["record"]["rejected"] == 1


def test_corals_phase_answers_with_the_authors_standing(make_client: Callable[..., TestClient]) -> None:
    """Coral publishes on the phase's answer: a suspended author's civil comment is rejected there and then, and a
    pre-moderated one's is withheld (Coral's own ids: the author is user-7)."""
    from pydantic import SecretStr

    from tests.api.test_compat import coral_request, coral_signed

    client = make_client(inprocess_worker=True, coral_signing_secrets={"tenant-a": [SecretStr("s")]})
    path = "/v1/coral/tenant-a/moderation"
    raw, headers = coral_signed(coral_request(CLEAN), ["s"])
    assert client.post(path, content=raw, headers=headers).status_code == 204  # allowed: no standing yet
    assert _standing(client, "user-7", standing="suspended", reason="ban evasion").status_code == 200
    raw, headers = coral_signed(coral_request(CLEAN + " Again."), ["s"])
    answer = client.post(path, content=raw, headers=headers)
    assert answer.status_code == 200 and answer.json()["status"] == "REJECTED"
    assert _standing(client, "user-7", standing="premoderated", reason="on probation").status_code == 200
    raw, headers = coral_signed(coral_request(CLEAN + " Once more."), ["s"])
    assert client.post(path, content=raw, headers=headers).json()["status"] == "SYSTEM_WITHHELD"
