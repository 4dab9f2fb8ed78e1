"""The moderator page's server side: sign-in, the session cookie, CSRF, the page's data, leases and live events.

Everything runs against a real Redis and the real model (the in-process worker scores what the tests post); the
page's behaviour in a browser is tested in tests/browser/.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.sessions import COOKIE, CSRF_HEADER
from service.ui import CONTENT_SECURITY_POLICY
from tests.conftest import auth
from tests.utils.processes import live_server, wait_for

FLAGGED = [
    ("bad1", "You are a complete idiot and a liar.", "t1"),
    ("bad2", "Shut up, nobody cares about your stupid opinion, moron.", "t1"),
    ("bad3", "People like you are ruining this town, you pathetic fool.", "t2"),
]


def post_flagged(client: TestClient, key: str = "pk-a", **extra: Any) -> None:
    body = {
        "comments": [{"id": i, "text": t, "thread_id": th, "author_id": "reader-7", **extra} for i, t, th in FLAGGED]
    }
    assert client.post("/v1/comments", json=body, headers=auth(key)).status_code == 202
    moderator = "mk-a" if key == "pk-a" else "mk-b"
    wait_for(
        lambda: len(client.get("/v1/queues/review", headers=auth(moderator)).json()["items"]) == len(FLAGGED),
        90,
        "the flagged comments in the review queue",
    )


@pytest.fixture
def page_client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client(inprocess_worker=True)


def sign_in(client: TestClient, key: str = "mk-a") -> str:
    """Signs in; returns the page's CSRF token."""
    response = client.post("/moderate/session", data={"key": key}, follow_redirects=False)
    assert response.status_code == 303, response.text
    page = client.get("/moderate")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match
    return match.group(1)


def use_cookie(client: TestClient, value: str) -> None:
    client.cookies.clear()
    client.cookies.set(COOKIE, value)


def page_data(html: str) -> dict[str, Any]:
    match = re.search(r'<script id="page-data" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return dict(json.loads(match.group(1)))


def test_signed_out_visitors_get_the_sign_in_form_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/moderate")
    assert page.status_code == 200
    assert '<form method="post" action="/moderate/session" id="account-signin">' in page.text
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert page.headers["x-frame-options"] == "DENY"
    assert client.get("/moderate/static/moderate.js").status_code == 200


@pytest.mark.parametrize(("key", "status"), [("nope", 401), ("", 401), ("pk-a", 403)])
def test_wrong_or_platform_keys_are_refused(client: TestClient, key: str, status: int) -> None:
    response = client.post("/moderate/session", data={"key": key}, follow_redirects=False)
    assert response.status_code == status
    assert COOKIE not in response.cookies
    assert 'role="alert"' in response.text


def test_the_session_cookie_is_httponly_strict_and_holds_no_key(client: TestClient) -> None:
    response = client.post("/moderate/session", data={"key": "mk-a"}, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=28800" in cookie
    assert "Secure" not in cookie  # plain http here; over https the cookie is Secure (next test)
    assert "mk-a" not in cookie and "moderator" not in cookie


def test_the_cookie_is_secure_over_https(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    client.base_url = "https://testserver"  # type: ignore[assignment]
    response = client.post("/moderate/session", data={"key": "mk-a"}, follow_redirects=False)
    assert "Secure" in response.headers["set-cookie"]


def test_changes_need_the_csrf_token_and_our_origin(page_client: TestClient) -> None:
    post_flagged(page_client)
    token = sign_in(page_client)
    decision = {"decision": "approve", "reason": "fine"}
    assert page_client.get("/v1/queues/review").status_code == 200  # reads: the cookie alone
    refused = page_client.post("/v1/comments/bad1/decision", json=decision)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    wrong = page_client.post("/v1/comments/bad1/decision", json=decision, headers={CSRF_HEADER: "x" + token})
    assert wrong.status_code == 403
    other_site = page_client.post(
        "/v1/comments/bad1/decision", json=decision, headers={CSRF_HEADER: token, "Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    done = page_client.post(
        "/v1/comments/bad1/decision", json=decision, headers={CSRF_HEADER: token, "Origin": "http://testserver"}
    )
    assert done.status_code == 200 and done.json()["decided_by"] == "moderator-1"


def test_the_page_carries_its_first_queue_page_author_records_and_titles(page_client: TestClient) -> None:
    page_client.post(
        "/v1/articles", json={"id": "t1", "title": "Council votes to close the library"}, headers=auth("pk-a")
    )
    post_flagged(page_client, article_id="t1")
    sign_in(page_client)
    data = page_data(page_client.get("/moderate").text)
    assert data["moderator"] == "moderator-1" and data["counts"]["review"] == 3
    ids = [i["id"] for i in data["items"]]
    assert sorted(ids) == ["bad1", "bad2", "bad3"]
    first = data["items"][0]
    assert first["spans"] and first["reasons"]
    assert first["author"] == {"comments": 3, "flagged": 3, "rejected": 0, "standing": None}
    assert first["article_title"] == "Council votes to close the library"
    assert data["reasons"][0] == "personal attack"


def test_comment_text_cannot_break_out_of_the_page_data(page_client: TestClient) -> None:
    evil = "</script><script>alert(1)</script> you idiot moron"
    body = {"comments": [{"id": "x1", "text": evil, "thread_id": "t9"}]}
    page_client.post("/v1/comments", json=body, headers=auth("pk-a"))
    wait_for(lambda: page_client.get("/v1/comments/x1", headers=auth("pk-a")).json()["status"] != "queued", 60, "x1")
    sign_in(page_client)
    html = page_client.get("/moderate").text
    assert "<script>alert(1)" not in html


def test_sign_out_ends_the_session_everywhere(client: TestClient) -> None:
    token = sign_in(client)
    cookie = client.cookies[COOKIE]
    assert client.post("/moderate/signout", data={"csrf": token}, follow_redirects=False).status_code == 303
    use_cookie(client, cookie)  # the old cookie, kept by an attacker, no longer works
    assert client.get("/v1/queues/review").status_code == 401
    assert '<form method="post" action="/moderate/session" id="account-signin">' in client.get("/moderate").text


def test_sign_out_without_the_pages_token_is_refused_and_ends_nothing(client: TestClient) -> None:
    sign_in(client)
    cookie = client.cookies[COOKIE]
    for data in ({}, {"csrf": "forged"}):  # another site's form cannot read the token
        assert client.post("/moderate/signout", data=data, follow_redirects=False).status_code == 403
        use_cookie(client, cookie)
        assert client.get("/v1/queues/review").status_code == 200  # neither ended nor half-ended


def test_tampered_cookies_and_removed_keys_end_the_session(make_client: Callable[..., TestClient]) -> None:
    client = make_client()
    sign_in(client)
    cookie = client.cookies[COOKIE]
    tenant, session_id, expires, sig = cookie.split(".")
    flipped = ("y" if sig[0] == "x" else "x") + sig[1:]  # always a different signature (a signature may start with x)
    for forged in (f"{tenant}.{session_id}.{int(expires) + 999}.{sig}", f"{tenant}.{session_id}.{expires}.{flipped}"):
        use_cookie(client, forged)
        assert client.get("/v1/queues/review").status_code == 401
    # the moderator key was removed from the configuration
    other = make_client(api_keys=SecretStr("pk-a=tenant-a:platform"))
    use_cookie(other, cookie)
    assert other.get("/v1/queues/review").status_code == 401


def test_a_moderator_sees_only_their_tenant(page_client: TestClient) -> None:
    post_flagged(page_client)
    sign_in(page_client, "mk-b")
    data = page_data(page_client.get("/moderate").text)
    assert data["tenant"] == "tenant-b" and data["items"] == [] and data["counts"]["review"] == 0
    assert page_client.get("/v1/comments/bad1").status_code == 404


def test_leases_renew_and_release_only_for_their_holder(page_client: TestClient) -> None:
    post_flagged(page_client)
    claimed = page_client.post("/v1/queues/review/claim", json={"count": 2, "lease_s": 5}, headers=auth("mk-a")).json()
    ids = [i["id"] for i in claimed["items"]]
    assert len(ids) == 2 and all(i["priority"] > 0 for i in claimed["items"])
    other = page_client.post("/v1/claims/renew", json={"ids": ids}, headers=auth("ak-a")).json()
    assert other["ids"] == []  # not theirs
    renewed = page_client.post("/v1/claims/renew", json={"ids": ids, "lease_s": 60}, headers=auth("mk-a")).json()
    assert renewed["ids"] == ids
    released = page_client.post("/v1/claims/release", json={"ids": ids[:1]}, headers=auth("mk-a")).json()
    assert released["ids"] == ids[:1]
    again = page_client.post("/v1/queues/review/claim", json={"count": 3}, headers=auth("ak-a")).json()
    assert [i["id"] for i in again["items"]] == [ids[0], *[i for i in ("bad1", "bad2", "bad3") if i not in ids]]


def test_a_stance_filter_means_a_confident_label_and_counts_the_unsure(page_client: TestClient) -> None:
    page_client.post(
        "/v1/articles", json={"id": "lib", "title": "Council votes to close the library"}, headers=auth("pk-a")
    )
    post_flagged(page_client, article_id="lib")
    items = page_client.get("/v1/queues/review", headers=auth("mk-a")).json()["items"]
    unsure = [i for i in items if not i["stance"]["confident"]]
    assert unsure, [i["stance"] for i in items]  # the article head is rarely sure (its card says why)
    label = unsure[0]["stance"]["label"]
    page = page_client.get(f"/v1/queues/review?stance={label}", headers=auth("mk-a")).json()
    assert all(i["stance"]["label"] == label and i["stance"]["confident"] for i in page["items"])
    assert page["unsure"] == sum(1 for i in unsure if i["stance"]["label"] == label)


def test_threads_carry_queue_spans_titles_and_the_premoderation_switch(page_client: TestClient) -> None:
    page_client.post("/v1/articles", json={"id": "t1", "title": "Library vote"}, headers=auth("pk-a"))
    post_flagged(page_client, article_id="t1")
    page_client.put("/v1/premoderation/t1", headers=auth("mk-a"))
    thread = page_client.get("/v1/threads/t1", headers=auth("mk-a")).json()
    assert thread["premoderated"] is True and thread["articles"] == [{"id": "t1", "title": "Library vote"}]
    assert {c["queue"] for c in thread["comments"]} == {"review"} and all(c["spans"] for c in thread["comments"])
    assert page_client.get("/v1/premoderation/t1", headers=auth("mk-a")).json()["premoderated"] is True


# ---------- live events, through a real `moderato serve` ----------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("events")
    keys = "pk=site:platform,mk1=site:moderator:ana,mk2=site:moderator:ben"
    with live_server(folder, api_keys=keys, forwarded_allow_ips="127.0.0.1") as (url, _):
        yield url


class EventReader:
    """Reads an SSE stream on a thread and keeps its events."""

    def __init__(self, url: str, key: str, last_event_id: str | None = None) -> None:
        self.events: list[dict[str, Any]] = []
        headers = {**auth(key), **({"Last-Event-ID": last_event_id} if last_event_id else {})}
        self.response = httpx.Client(timeout=30).send(
            httpx.Request("GET", f"{url}/v1/events", headers=headers), stream=True
        )
        assert self.response.status_code == 200
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        event: dict[str, Any] = {}
        try:
            for line in self.response.iter_lines():
                if not line:
                    if "event" in event:
                        self.events.append(event)
                    event = {}
                elif line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("event: "):
                    event["event"] = line[7:]
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
        except httpx.HTTPError:
            pass

    def kinds(self, comment_id: str) -> list[str]:
        return [e["event"] for e in self.events if e.get("data", {}).get("id") == comment_id]

    def close(self) -> None:
        self.response.close()


def test_queue_changes_arrive_live_and_a_reconnect_resumes(live: str) -> None:
    reader = EventReader(live, "mk2")
    try:
        body = {"comments": [{"id": "e1", "text": "You are a stupid idiot and a liar.", "thread_id": "t"}]}
        assert httpx.post(f"{live}/v1/comments", json=body, headers=auth("pk")).status_code == 202
        wait_for(lambda: "queued" in reader.kinds("e1"), 60, "the queued event")
        queued = next(e for e in reader.events if e["event"] == "queued")
        assert queued["data"]["queue"] == "review" and queued["data"]["review"] == "1"
        claim = httpx.post(f"{live}/v1/queues/review/claim", json={"count": 1}, headers=auth("mk1")).json()
        assert [i["id"] for i in claim["items"]] == ["e1"]
        wait_for(lambda: "claimed" in reader.kinds("e1"), 10, "the claimed event")
        decided = httpx.post(f"{live}/v1/comments/e1/decision", json={"decision": "reject"}, headers=auth("mk1"))
        assert decided.status_code == 200
        wait_for(lambda: "decided" in reader.kinds("e1"), 10, "the decided event")
        last = next(e for e in reader.events if e["event"] == "decided")
        assert last["data"]["moderator"] == "ana" and last["data"]["review"] == "0"
    finally:
        reader.close()
    # A page that reconnects with the id of the first event it saw gets everything after it, in order.
    resumed = EventReader(live, "mk2", last_event_id=queued["id"])
    try:
        wait_for(lambda: len(resumed.events) >= 2, 10, "the missed events")
        assert [e["event"] for e in resumed.events[:2]] == ["claimed", "decided"]
    finally:
        resumed.close()


def test_events_need_a_moderator(live: str) -> None:
    assert httpx.get(f"{live}/v1/events", headers=auth("pk"), timeout=10).status_code == 403
    assert httpx.get(f"{live}/v1/events", timeout=10).status_code == 401


def test_behind_a_trusted_tls_proxy_the_cookie_is_secure(live: str) -> None:
    direct = httpx.post(f"{live}/moderate/session", data={"key": "mk1"}, timeout=10)
    assert "secure" not in direct.headers["set-cookie"].lower()
    proxied = httpx.post(
        f"{live}/moderate/session", data={"key": "mk1"}, headers={"X-Forwarded-Proto": "https"}, timeout=10
    )
    assert "secure" in proxied.headers["set-cookie"].lower()


def test_guessing_keys_on_the_sign_in_form_is_slowed_down(make_client: Callable[..., TestClient]) -> None:
    client = make_client(sign_in_failure_limit="3/minute")
    for _ in range(3):
        assert client.post("/moderate/session", data={"key": "guess"}, follow_redirects=False).status_code == 401
    blocked = client.post("/moderate/session", data={"key": "mk-a"}, follow_redirects=False)
    assert blocked.status_code == 429 and "Too many" in blocked.text  # even the right key waits its turn


def test_a_forged_forwarded_for_gives_no_fresh_address_per_guess(make_client: Callable[..., TestClient]) -> None:
    def guess(client: TestClient, forwarded: str, key: str = "guess") -> int:
        headers = {"X-Forwarded-For": forwarded}
        return client.post("/moderate/session", data={"key": key}, headers=headers, follow_redirects=False).status_code

    # no proxy configured (the default): the header is ignored, the socket's peer is the client
    direct = make_client(sign_in_failure_limit="3/minute")
    assert [guess(direct, f"198.51.100.{i}") for i in range(3)] == [401] * 3
    assert guess(direct, "198.51.100.99", key="mk-a") == 429
    # behind one trusted proxy: the client is the entry the proxy appended; what the client wrote before it is not
    proxied = make_client(sign_in_failure_limit="3/minute", forwarded_allow_ips="*", proxy_hops=1)
    assert [guess(proxied, f"198.51.100.{i}, 203.0.113.7") for i in range(3)] == [401] * 3
    assert guess(proxied, "198.51.100.50, 203.0.113.7", key="mk-a") == 429
    assert guess(proxied, "203.0.113.8", key="mk-a") == 303  # a colleague at another address is not locked out


def test_a_page_from_an_earlier_session_picks_up_the_new_token(client: TestClient) -> None:
    old = sign_in(client)
    new = sign_in(client)  # signed in again (another tab): a new session, a new token
    assert old != new
    assert client.get("/moderate/token").json() == {"csrf": new}
    client.cookies.clear()
    assert client.get("/moderate/token").status_code == 401
