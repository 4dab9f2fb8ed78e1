"""Signing in to the page through the site's identity provider, in Chromium: the sign-in page's button goes to a
provider on loopback (which signs its one person in at once, as a provider does after its own login page), comes
back, and the page opens as that person."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import KEYS
from tests.utils.oidc_provider import OidcProvider
from tests.utils.processes import live_server

pytestmark = pytest.mark.slow


def test_the_organisation_button_signs_a_person_in_through_the_provider(browser: Any, tmp_path: Path) -> None:
    person = {"sub": "idp-7", "preferred_username": "lee", "email": "lee@news.example"}
    with OidcProvider("moderato", "client-secret", person) as idp:
        oidc = {"news": {"issuer": idp.issuer, "client_id": "moderato", "client_secret": "client-secret",
                         "allow": ["127.0.0.1"]}}  # fmt: skip
        with live_server(tmp_path, api_keys=KEYS, oidc=oidc) as (url, _):
            page = browser.new_context().new_page()
            page.goto(f"{url}/moderate")
            page.get_by_label("Site, to sign in through its identity provider").fill("news")
            page.get_by_role("button", name="Sign in with your organisation").click()
            page.locator("#live:text-is('Live')").wait_for()  # back on the page, signed in
            assert "lee · news" in page.locator(".who").inner_text()
            assert idp.refused == []
            page.context.close()
