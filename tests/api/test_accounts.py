"""Moderator accounts (#25 item 4, #24 item 4): each person signs in as themselves, the audit names them, wrong
passwords lock the account whatever address they come from, and a new password or removal signs it out."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from service.api.sessions import COOKIE
from tests.conftest import auth

PASSWORD = "a long passphrase for ann"


def _create(client: TestClient, name: str, key: str = "ak-a", **body: Any) -> Any:
    return client.post("/v1/accounts", json={"name": name, **body}, headers=auth(key))


def _sign_in(client: TestClient, account: str, password: str, tenant: str = "tenant-a", **headers: str) -> Any:
    client.cookies.clear()
    form = {"tenant": tenant, "account": account, "password": password}
    return client.post("/moderate/session", data=form, headers=headers, follow_redirects=False)


def _csrf(client: TestClient) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get("/moderate").text)
    assert match
    return match.group(1)


def test_an_admin_creates_accounts_and_each_person_signs_in_as_themselves(client: TestClient) -> None:
    created = _create(client, "ann", role="moderator", password=PASSWORD)
    assert created.status_code == 201 and created.json()["password"] == PASSWORD
    generated = _create(client, "boss", role="admin")
    assert generated.status_code == 201 and len(generated.json()["password"]) >= 20  # shown once
    assert _create(client, "ann", password=PASSWORD).json()["error"]["code"] == "account_exists"
    assert _create(client, "moderator-1").json()["error"]["code"] == "name_taken"  # an API key's name
    assert _create(client, "Ann Smith").status_code in (400, 422)
    assert _create(client, "short", password="too short").status_code == 422
    assert _create(client, "eve", key="mk-a").status_code == 403  # only admins manage accounts
    assert _create(client, "eve", key="pk-a").status_code == 403
    names = [a["name"] for a in client.get("/v1/accounts", headers=auth("ak-a")).json()["items"]]
    assert names == ["ann", "boss"]
    assert "password" not in str(client.get("/v1/accounts", headers=auth("ak-a")).json())

    assert _sign_in(client, "ann", "not the password").status_code == 401
    assert _sign_in(client, "ann", PASSWORD, tenant="tenant-b").status_code == 401  # accounts belong to a tenant
    signed_in = _sign_in(client, "ann", PASSWORD)
    assert signed_in.status_code == 303 and COOKIE in signed_in.cookies
    page = client.get("/moderate")
    assert "ann" in page.text and 'name="csrf-token"' in page.text
    assert client.get("/v1/accounts").status_code == 403  # a moderator's session is no admin


def test_the_audit_names_the_person_and_account_changes_are_audited(make_client: Callable[..., TestClient]) -> None:
    from tests.api.test_moderator_page import FLAGGED, post_flagged

    page_client = make_client(inprocess_worker=True)
    _create(page_client, "ann", password=PASSWORD)
    post_flagged(page_client)
    _sign_in(page_client, "ann", PASSWORD)
    comment = FLAGGED[0][0]
    decision = {"decision": "reject", "reason": "insult"}
    headers = {"x-csrf-token": _csrf(page_client), "origin": "http://testserver"}
    assert page_client.post(f"/v1/comments/{comment}/decision", json=decision, headers=headers).status_code == 200
    page_client.cookies.clear()
    entries = page_client.get("/v1/audit", headers=auth("ak-a")).json()["items"]
    assert [(e["actor"], e["action"]) for e in entries if e["comment_id"] == comment][0] == ("ann", "reject")
    created = [e for e in entries if e["action"] == "account_created"]
    assert created and created[0]["account"] == "ann" and created[0]["actor"] == "admin-1"


def test_wrong_passwords_lock_the_account_from_any_address_until_an_admin_unlocks_it(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(account_lockout_failures=3, sign_in_failure_limit="100/minute")
    _create(client, "ann", password=PASSWORD)
    for n in range(3):  # counted on the account, whatever address the guesses come from
        assert _sign_in(client, "ann", f"guess number {n}").status_code == 401
    locked = _sign_in(client, "ann", PASSWORD)
    assert locked.status_code == 429 and "locked" in locked.text  # the right password too, while locked
    account = client.get("/v1/accounts", headers=auth("ak-a")).json()["items"][0]
    assert account["locked_until"] is not None
    audit = client.get("/v1/audit", headers=auth("ak-a")).json()["items"]
    assert any(e["action"] == "account_locked" and e["account"] == "ann" for e in audit)
    assert client.post("/v1/accounts/ann/unlock", headers=auth("ak-a")).json()["locked_until"] is None
    assert _sign_in(client, "ann", PASSWORD).status_code == 303
    # another person's account is never locked by guesses at ann's
    _create(client, "bob", password=PASSWORD + " too")
    assert _sign_in(client, "bob", PASSWORD + " too").status_code == 303


def test_a_new_password_or_removal_signs_the_account_out_everywhere(client: TestClient) -> None:
    _create(client, "ann", password=PASSWORD)
    _sign_in(client, "ann", PASSWORD)
    cookie = client.cookies[COOKIE]
    assert client.get("/v1/queues/review").status_code == 200  # the session reads the queues

    reset = client.post("/v1/accounts/ann/password", headers=auth("ak-a"))
    assert reset.status_code == 200 and reset.json()["password"] != PASSWORD
    client.cookies.set(COOKIE, cookie)
    assert client.get("/v1/queues/review").status_code == 401  # the old session ended
    assert _sign_in(client, "ann", PASSWORD).status_code == 401
    assert _sign_in(client, "ann", reset.json()["password"]).status_code == 303

    assert client.delete("/v1/accounts/ann", headers=auth("ak-a")).status_code == 204
    assert client.get("/v1/queues/review").status_code == 401
    assert _sign_in(client, "ann", reset.json()["password"]).status_code == 401
    assert client.delete("/v1/accounts/ann", headers=auth("ak-a")).status_code == 404
