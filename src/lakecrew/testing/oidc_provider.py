"""A real OpenID Connect provider on loopback, for the dashboard's sign-in tests.

Serves a discovery document, a JWKS, an authorization endpoint that signs the test user in
without a prompt (it checks client_id, redirect_uri, response_type, PKCE S256 and nonce
presence, then redirects back with a one-use code) and a token endpoint (client secret by HTTP
Basic, the code's redirect_uri and PKCE verifier checked) that returns ID tokens signed RS256
with the provider's key — or, as the test asks through `Provider.next_token`, tokens signed by
another key, for another audience, already expired or without the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

CLIENT_ID = "lakecrew-dashboard"
CLIENT_SECRET = "test-client-secret-not-real"


@dataclass
class Provider:
    """The provider's state: its key, the issued codes, what the next token looks like."""

    issuer: str = ""
    claims: dict[str, Any] = field(default_factory=dict)  # the signed-in user's claims
    next_token: str = "good"  # good | bad_signature | wrong_audience | expired | no_nonce
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    key: Any = None
    other_key: Any = None

    def id_token(self, nonce: str, access_token: str) -> str:
        from joserfc import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": "user-42", "aud": CLIENT_ID, "iat": now,
            "exp": now + 300, "nonce": nonce, **self.claims,
        }  # fmt: skip
        key = self.key
        if self.next_token == "bad_signature":
            key = self.other_key  # same kid, another private key: the JWKS key will not verify
        elif self.next_token == "wrong_audience":
            claims["aud"] = "someone-else"
        elif self.next_token == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif self.next_token == "no_nonce":
            del claims["nonce"]
        del access_token  # no at_hash: it is optional in the code flow
        return jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, key)


def _app(provider: Provider) -> Any:
    from fastapi import FastAPI, Form, Header, HTTPException
    from fastapi.responses import JSONResponse, RedirectResponse

    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": provider.issuer,
            "authorization_endpoint": f"{provider.issuer}/authorize",
            "token_endpoint": f"{provider.issuer}/token",
            "jwks_uri": f"{provider.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [provider.key.as_dict(private=False)]}

    @app.get("/authorize")
    def authorize(
        response_type: str, client_id: str, redirect_uri: str, state: str, nonce: str,
        code_challenge: str, code_challenge_method: str, scope: str,
    ) -> Any:  # fmt: skip
        if response_type != "code" or client_id != CLIENT_ID or code_challenge_method != "S256":
            raise HTTPException(400, "bad authorization request")
        if "openid" not in scope.split():
            raise HTTPException(400, "openid scope missing")
        code = secrets.token_urlsafe(16)
        provider.codes[code] = {
            "redirect_uri": redirect_uri, "challenge": code_challenge, "nonce": nonce,
        }  # fmt: skip
        return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", 302)

    @app.post("/token")
    def token(
        grant_type: str = Form(), code: str = Form(), redirect_uri: str = Form(),
        code_verifier: str = Form(), authorization: str = Header(""),
    ) -> Any:  # fmt: skip
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if authorization != f"Basic {basic}":
            return JSONResponse({"error": "invalid_client"}, 401)
        issued = provider.codes.pop(code, None)
        if grant_type != "authorization_code" or issued is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        digest = hashlib.sha256(code_verifier.encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != issued["challenge"] or redirect_uri != issued["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant"}, 400)
        access = secrets.token_urlsafe(24)
        return {
            "access_token": access, "token_type": "Bearer", "expires_in": 300,
            "id_token": provider.id_token(issued["nonce"], access),
        }  # fmt: skip

    return app


@contextmanager
def oidc_provider(claims: dict[str, Any]) -> Iterator[Provider]:
    """A provider on a free loopback port whose user has `claims` (e.g. groups)."""
    from joserfc.jwk import RSAKey

    from lakecrew.testing.web import running

    provider = Provider(claims=claims)
    provider.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
    provider.other_key = RSAKey.generate_key(2048, parameters={"kid": "test-key-1"})
    with running(_app(provider)) as base:
        provider.issuer = base
        yield provider
