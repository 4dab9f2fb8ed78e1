"""An OpenID Connect provider on loopback, as far as a sign-in needs one: discovery, an authorization endpoint that
signs in its one person at once (as a provider does after its own login page), a token endpoint that checks the
client secret, the code, the redirect URI and the PKCE verifier, and its signing keys. ID tokens are RS256 (joserfc)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.utils.processes import LoopbackServer, answer_json


class OidcProvider(LoopbackServer):
    def __init__(self, client_id: str, client_secret: str, person: dict[str, Any]) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.person = person  # the claims of whoever signs in: sub, preferred_username, email
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-1"})
        self.codes: dict[str, dict[str, str]] = {}
        self.tamper = False  # sign ID tokens with a key the provider does not publish
        self.refused: list[str] = []
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path, _, query = self.path.partition("?")
                status, headers, body = provider.get(path, parse_qs(query))
                answer_json(self, status, body, headers)

            def do_POST(self) -> None:  # noqa: N802
                form = parse_qs(self.rfile.read(int(self.headers.get("content-length", "0"))).decode())
                status, headers, body = provider.token(form)
                answer_json(self, status, body, headers)

            def log_message(self, *args: object) -> None:
                pass

        self._serve(Handler)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def get(self, path: str, query: dict[str, list[str]]) -> tuple[int, dict[str, str], dict[str, Any] | None]:
        if path == "/.well-known/openid-configuration":
            return (
                200,
                {},
                {
                    "issuer": self.issuer,
                    "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token",
                    "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                },
            )
        if path == "/jwks":
            return 200, {}, KeySet([self.key]).as_dict(private=False)
        if path == "/authorize":
            ask = {k: v[0] for k, v in query.items()}
            if ask.get("client_id") != self.client_id or ask.get("code_challenge_method") != "S256":
                self.refused.append("authorize")
                return 400, {}, {"error": "invalid_request"}
            code = secrets.token_urlsafe(16)
            with self._lock:
                self.codes[code] = ask
            target = f"{ask['redirect_uri']}?{urlencode({'code': code, 'state': ask['state']})}"
            return 302, {"location": target}, None
        return 404, {}, {"error": "not_found"}

    def token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, str], dict[str, Any]]:
        given = {k: v[0] for k, v in form.items()}
        with self._lock:
            asked = self.codes.pop(given.get("code", ""), None)  # a code works once
        verifier = given.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
        if (
            asked is None
            or given.get("client_id") != self.client_id
            or given.get("client_secret") != self.client_secret
            or given.get("redirect_uri") != asked["redirect_uri"]
            or challenge != asked["code_challenge"]
        ):
            self.refused.append("token")
            return 400, {}, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {**self.person, "iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 300,
                  "nonce": asked["nonce"]}  # fmt: skip
        key = RSAKey.generate_key(2048, parameters={"kid": "test-1"}) if self.tamper else self.key
        id_token = jwt.encode({"alg": "RS256", "kid": "test-1"}, claims, key)
        return 200, {}, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "id_token": id_token}


def follow_to_callback(location: str) -> str:
    """The provider's redirect back: the path and query the browser would open on Moderato."""
    import httpx

    answer = httpx.get(location, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["location"])
    return f"{back.path}?{back.query}"
