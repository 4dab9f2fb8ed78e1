"""Coral's round trip (#22 item 4), against a Coral on loopback that checks every GraphQL request against Coral's
schema: Coral's webhook names each comment's id, a reply reads its parent, an EDIT rescores the same record, and a
moderator's decision and its reversal reach Coral as rejectComment / approveComment, retried like webhooks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service import redis_keys as keys
from service.config import CoralSiteSettings, PolicySettings
from tests.api.test_compat import coral_request, coral_signed
from tests.conftest import auth
from tests.utils.coral_site import CoralSite
from tests.utils.processes import wait_for

PHASE_SECRET = "phase-secret"
HOOK_SECRET = "hook-secret"
TOKEN = "coral-access-token"
RUDE = "<p>The councillor is a lying <b>idiot</b> and everyone knows it.</p>"
RUDE_EDITED = "<p>The councillor is a lying idiot, a coward and a fraud.</p>"
REPLY = "<p>I disagree, the councillor has been honest about the library budget.</p>"
# held for review on its scores (so a moderator decides it), never rejected outright
POLICY = PolicySettings(review={"toxicity": 0.3, "insult": 0.3}, reject={"toxicity": 0.999})


def _phase(client: TestClient, data: dict[str, Any]) -> Any:
    raw, headers = coral_signed(data, [PHASE_SECRET])
    return client.post("/v1/coral/tenant-a/moderation", content=raw, headers=headers)


def _event(client: TestClient, kind: str, coral_id: str, secret: str = HOOK_SECRET) -> Any:
    """Coral's webhook, as Coral's webhook endpoint sends it (signed like the phase)."""
    data = {
        "id": f"event-{kind}-{coral_id}",
        "type": kind,
        "tenantID": "coral-tenant",
        "tenantDomain": "news.example",
        "data": {"commentID": coral_id, "storyID": "story-1", "siteID": "site-1"},
        "createdAt": "2026-12-03T18:00:00.000Z",
    }
    raw, headers = coral_signed(data, [secret])
    return client.post("/v1/coral/tenant-a/events", content=raw, headers=headers)


def _by(author: str, body: str, **changes: Any) -> dict[str, Any]:
    request = coral_request(body, **changes)
    return {**request, "author": {"id": author, "role": "COMMENTER"}}


def _record(redis_client: redis.Redis, comment_id: str) -> dict[str, str]:
    raw = redis_client.hgetall(keys.comment("tenant-a", comment_id))
    return {k.decode(): v.decode() for k, v in raw.items()}  # type: ignore[union-attr]


def _client(make_client: Callable[..., TestClient], coral: CoralSite) -> TestClient:
    site = CoralSiteSettings(
        url=coral.origin,
        access_token=SecretStr(TOKEN),
        webhook_secrets=[SecretStr(HOOK_SECRET)],
        allow=["127.0.0.1"],
        edit_window_s=120,
    )
    return make_client(
        inprocess_worker=True,
        coral_signing_secrets={"tenant-a": [SecretStr(PHASE_SECRET)]},
        coral_sites={"tenant-a": site},
        policies={"tenant-a": POLICY},
        webhook_backoff_s=0.2,
    )


def test_a_coral_comment_is_linked_edited_in_place_and_decided_back_in_coral(
    make_client: Callable[..., TestClient], redis_client: redis.Redis
) -> None:
    with CoralSite(TOKEN, fail_first=0) as coral:
        client = _client(make_client, coral)
        assert _phase(client, _by("user-7", RUDE)).json()["status"] == "SYSTEM_WITHHELD"
        coral.add("c-1", RUDE, author="user-7", story="story-1")  # Coral stores it, then sends its webhook
        ours = _event(client, "COMMENT_CREATED", "c-1").json()["linked"]
        assert ours and _record(redis_client, ours)["coral_id"] == "c-1"
        assert _record(redis_client, ours)["story_url"].startswith("https://news.example/")
        author = client.get("/v1/authors/user-7", headers=auth("mk-a")).json()
        assert author["author_name"] == "Reader user-7"  # Coral's username, learnt through its API

        # a reply names Coral's parent id: it is read against its parent's record
        _phase(client, _by("user-8", REPLY, parent="c-1"))
        coral.add("c-2", REPLY, author="user-8", story="story-1", parent="c-1")
        reply = _event(client, "COMMENT_REPLY_CREATED", "c-2").json()["linked"]
        assert reply and _record(redis_client, reply)["parent_id"] == ours

        def scored(comment_id: str) -> dict[str, Any]:
            return client.get(f"/v1/comments/{comment_id}", headers=auth("mk-a")).json()  # type: ignore[no-any-return]

        wait_for(lambda: scored(reply)["status"] != "queued" and scored(ours)["status"] != "queued", 60, "scoring")
        assert scored(reply)["result"]["stance_to_parent"] is not None

        # the author edits within Coral's window: the same record is rescored, no second one appears
        before = len(redis_client.keys(keys.comment("tenant-a", "*")))
        _phase(client, {**_by("user-7", RUDE_EDITED), "action": "EDIT"})
        coral.edit("c-1", RUDE_EDITED)
        assert len(redis_client.keys(keys.comment("tenant-a", "*"))) == before
        assert _record(redis_client, ours)["revision"] == "1"
        wait_for(lambda: scored(ours)["status"] != "queued", 60, "the edit rescored")
        assert "fraud" in _record(redis_client, ours)["text"]
        queued = client.get("/v1/queues/review", headers=auth("mk-a")).json()["items"]
        assert [i["id"] for i in queued].count(ours) == 1

        # a moderator's decision reaches Coral, on the comment's latest revision; so does its reversal
        decide = {"decision": "reject", "reason": "insult"}
        assert client.post(f"/v1/comments/{ours}/decision", json=decide, headers=auth("mk-a")).status_code == 200
        wait_for(lambda: coral.moderated == [("rejectComment", "c-1", "c-1-r2")], 30, "rejectComment in Coral")
        reverse = {"decision": "approve", "reason": "quoting the councillor", "reverse": True}
        assert client.post(f"/v1/comments/{ours}/decision", json=reverse, headers=auth("mk-a")).status_code == 200
        wait_for(lambda: len(coral.moderated) == 2, 30, "approveComment in Coral")
        assert coral.moderated[1] == ("approveComment", "c-1", "c-1-r2")
        assert coral.comments["c-1"].status == "APPROVED"
        assert coral.refused == []  # every request was valid against Coral's schema, with the token


def test_corals_webhook_is_signed_and_a_failing_coral_is_retried(
    make_client: Callable[..., TestClient], redis_client: redis.Redis
) -> None:
    with CoralSite(TOKEN) as coral:
        client = _client(make_client, coral)
        assert _event(client, "COMMENT_CREATED", "c-9", secret="wrong").status_code == 401
        assert _event(client, "STORY_CREATED", "c-9").json() == {"linked": None}  # read, nothing to link
        assert _event(client, "COMMENT_CREATED", "unknown").json() == {"linked": None}  # Coral has no such comment

        _phase(client, _by("user-5", RUDE, story="story-1"))
        coral.add("c-5", RUDE, author="user-5", story="story-1")
        coral.fail_first = coral.calls + 1  # the next call meets a Coral that answers 500
        failed = _event(client, "COMMENT_CREATED", "c-5")
        assert failed.status_code == 503 and failed.json()["error"]["code"] == "coral_unreachable"
        ours = _event(client, "COMMENT_CREATED", "c-5").json()["linked"]  # Coral retries its webhook
        assert ours and _record(redis_client, ours)["coral_id"] == "c-5"

        wait_for(
            lambda: client.get(f"/v1/comments/{ours}", headers=auth("mk-a")).json()["status"] != "queued", 60, "scoring"
        )
        coral.fail_first = coral.calls + 1  # the decision's first delivery fails; the retry gets through
        decide = {"decision": "reject", "reason": "insult"}
        assert client.post(f"/v1/comments/{ours}/decision", json=decide, headers=auth("mk-a")).status_code == 200
        wait_for(lambda: coral.moderated == [("rejectComment", "c-5", "c-5-r1")], 30, "the retried rejectComment")
        assert coral.refused == []
