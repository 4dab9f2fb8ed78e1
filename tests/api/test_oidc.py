"""Signing in through the site's identity provider (#25 item 4), against an OpenID Connect provider on loopback:
the code flow with PKCE, the ID token verified, the person given an account of their own and named in the audit;
a replayed or forged answer signs no one in."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from service.api.sessions import COOKIE
from service.config import OidcSettings
from tests.conftest import auth
from tests.utils.oidc_provider import OidcProvider, follow_to_callback

PERSON = {"sub": "idp-user-42", "preferred_username": "Dana.Moss", "email": "dana@news.example"}


@pytest.fixture
def provider() -> Iterator[OidcProvider]:
    with OidcProvider("moderato", "client-secret", PERSON) as idp:
        yield idp


def _client(make_client: Callable[..., TestClient], idp: OidcProvider, **extra: Any) -> TestClient:
    site = OidcSettings(
        issuer=idp.issuer, client_id="moderato", client_secret=SecretStr("client-secret"), allow=["127.0.0.1"],
        **extra,
    )  # fmt: skip
    return make_client(oidc={"tenant-a": site})


def _start(client: TestClient, tenant: str = "tenant-a") -> str:
    """The provider's URL the page moves on to (a page, not a redirect: the CSP's form-action covers redirects)."""
    started = client.get("/moderate/oidc", params={"tenant": tenant}, follow_redirects=False)
    assert started.status_code == 200, started.text
    found = re.search(r'content="0;url=([^"]+)"', started.text)
    assert found
    return html.unescape(found.group(1))


def test_a_person_signs_in_through_the_provider_and_the_audit_names_them(
    make_client: Callable[..., TestClient], provider: OidcProvider
) -> None:
    client = _client(make_client, provider)
    location = _start(client)
    assert location.startswith(f"{provider.issuer}/authorize?") and "code_challenge=" in location
    back = client.get(follow_to_callback(location), follow_redirects=False)
    # a page of ours that moves on to /moderate (a redirect would still be the provider's cross-site navigation)
    assert back.status_code == 200 and 'url=/moderate"' in back.text and COOKIE in back.cookies
    page = client.get("/moderate").text
    assert "dana.moss" in page  # the account made from the provider's name, lower-cased
    accounts = client.get("/v1/accounts", headers=auth("ak-a")).json()["items"]
    assert [(a["name"], a["role"]) for a in accounts] == [("dana.moss", "moderator")]
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert csrf and client.get("/v1/queues/review").status_code == 200

    # the same person again: the same account; an admin removing it ends the session
    client.cookies.clear()
    client.get(follow_to_callback(_start(client)), follow_redirects=False)
    assert len(client.get("/v1/accounts", headers=auth("ak-a")).json()["items"]) == 1
    assert client.delete("/v1/accounts/dana.moss", headers=auth("ak-a")).status_code == 204
    assert client.get("/v1/queues/review").status_code == 401
    audit = client.get("/v1/audit", params={"action": "account_created"}, headers=auth("ak-a")).json()["items"]
    assert [(e["account"], e["actor"]) for e in audit] == [("dana.moss", "oidc")]
    assert provider.refused == []


def test_a_replayed_a_forged_or_an_unconfigured_sign_in_is_refused(
    make_client: Callable[..., TestClient], provider: OidcProvider
) -> None:
    client = _client(make_client, provider, admins=["dana@news.example"])
    callback = follow_to_callback(_start(client))
    assert client.get(callback, follow_redirects=False).status_code == 200
    assert client.get("/v1/accounts").status_code == 200  # listed in admins: an admin's session
    client.cookies.clear()
    replay = client.get(callback, follow_redirects=False)  # the same state and code again
    assert replay.status_code == 400 and COOKIE not in replay.cookies and "expired" in replay.text

    provider.tamper = True  # the ID token is signed by a key the provider does not publish
    forged = client.get(follow_to_callback(_start(client)), follow_redirects=False)
    assert forged.status_code == 400 and "could not be verified" in forged.text and COOKIE not in forged.cookies

    assert client.get("/moderate/oidc", params={"tenant": "tenant-b"}).status_code == 404  # not set up there
    bad_state = client.get("/moderate/oidc/callback", params={"state": "%%%", "code": "x"})
    assert bad_state.status_code == 400
