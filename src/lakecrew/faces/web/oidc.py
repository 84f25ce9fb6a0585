"""OpenID Connect sign-in for teams (Entra ID, a Databricks account, any OIDC provider).

The authorization-code flow with PKCE (S256), a random `state` bound to the browser by an
HttpOnly cookie and kept server-side for one use (10 minutes), and a `nonce` that the ID token
must carry. Authlib does the protocol (authorization URL, code exchange with the client secret
from the SecretStore, the ID-token claim checks of OIDC Core 3.1.3.7: `iss`, `aud`, `exp`,
`iat`, `nonce`, `azp`, `at_hash`); joserfc verifies the token's signature against the
provider's JWKS (fetched from its discovery document, fetched again once when a key id is
unknown: key rotation). The claims then map to a role (`web.oidc.roles` in lakecrew.yaml);
anyone matching no role is refused.

Every refusal is one line naming what failed (never the token or the code): `LoginRefused`.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

if TYPE_CHECKING:
    from lakecrew.faces.web.accounts import Role
    from lakecrew.services.estate.web_config import OidcConfig

PENDING_TTL = 600.0
MAX_PENDING = 2000
STATE_COOKIE = "lakecrew_oidc_state"
CALLBACK_PATH = "/auth/oidc/callback"


class LoginRefused(Exception):
    """The sign-in failed a check; the message says which (no token material)."""


@dataclass(frozen=True)
class _Pending:
    nonce: str
    verifier: str
    next: str
    created: float


@dataclass(frozen=True)
class SignedIn:
    name: str
    role: Role
    subject: str


class OidcLogin:
    """One provider: discovery, the authorization redirect, the callback's checks."""

    def __init__(
        self, cfg: OidcConfig, client_secret: str | None, *, timeout: float = 10.0
    ) -> None:
        self.cfg = cfg
        self._secret = client_secret
        self._timeout = timeout
        self._meta: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    @property
    def label(self) -> str:
        return self.cfg.label

    def _get(self, url: str) -> dict[str, Any]:
        import httpx

        try:
            response = httpx.get(url, timeout=self._timeout, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LoginRefused(f"the identity provider did not answer at {url}: {exc}") from None
        if not isinstance(data, dict):
            raise LoginRefused(f"{url} did not return a JSON object")
        return data

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (its issuer must be the configured one)."""
        if self._meta is None:
            meta = self._get(f"{self.cfg.issuer}/.well-known/openid-configuration")
            if str(meta.get("issuer", "")).rstrip("/") != self.cfg.issuer:
                raise LoginRefused(
                    f"the discovery document names issuer {meta.get('issuer')!r}, "
                    f"not {self.cfg.issuer!r}"
                )
            for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(meta.get(key), str):
                    raise LoginRefused(f"the discovery document has no {key}")
            self._meta = meta
        return self._meta

    def _keys(self, *, force: bool = False) -> dict[str, Any]:
        if self._jwks is None or force:
            self._jwks = self._get(self.metadata()["jwks_uri"])
        return self._jwks

    def _client(self) -> Any:
        from authlib.integrations.httpx_client import OAuth2Client

        return OAuth2Client(
            client_id=self.cfg.client_id,
            client_secret=self._secret,
            scope=" ".join(self.cfg.scopes),
            redirect_uri=self.cfg.redirect_url,
            code_challenge_method="S256",
            timeout=self._timeout,
        )

    # -------------------------------------------------------------------------- the flow

    def start(self, next_path: str) -> tuple[str, str]:
        """(the provider's authorization URL, the state for the browser's cookie)."""
        from authlib.common.security import generate_token

        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        with self._client() as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"],
                state=state,
                code_verifier=verifier,
                nonce=nonce,
            )
        now = time.monotonic()
        with self._lock:
            self._pending = {
                k: p for k, p in self._pending.items() if now - p.created < PENDING_TTL
            }
            if len(self._pending) >= MAX_PENDING:
                raise LoginRefused("too many sign-ins under way; try again in a few minutes")
            self._pending[state] = _Pending(nonce, verifier, next_path, now)
        return str(url), state

    def finish(self, params: dict[str, str], cookie_state: str | None) -> tuple[SignedIn, str]:
        """Check the callback and the ID token; (who signed in, the page to go to)."""
        state = params.get("state", "")
        if not state or not cookie_state or not secrets.compare_digest(state, cookie_state):
            raise LoginRefused("the sign-in state does not match this browser's")
        with self._lock:
            pending = self._pending.pop(state, None)
        if pending is None or time.monotonic() - pending.created >= PENDING_TTL:
            raise LoginRefused("the sign-in state is unknown, used or expired; sign in again")
        if "error" in params:
            raise LoginRefused(f"the identity provider refused: {params['error'][:80]}")
        if not params.get("code"):
            raise LoginRefused("the callback carries no authorization code")
        token = self._exchange(params["code"], pending.verifier)
        claims = self._verify(token, pending.nonce)
        return self._who(claims), pending.next

    def _exchange(self, code: str, verifier: str) -> dict[str, Any]:
        import httpx
        from authlib.integrations.base_client import OAuthError
        from authlib.oauth2 import OAuth2Error

        try:
            with self._client() as client:
                token = client.fetch_token(
                    self.metadata()["token_endpoint"], code=code, code_verifier=verifier
                )
        except (OAuthError, OAuth2Error) as exc:
            raise LoginRefused(f"the token endpoint refused the code: {exc.error}") from None
        except httpx.HTTPError as exc:
            raise LoginRefused(f"the token endpoint did not answer: {exc}") from None
        if "id_token" not in token:
            raise LoginRefused("the token response has no id_token (is 'openid' a scope?)")
        return dict(token)

    def _verify(self, token: dict[str, Any], nonce: str) -> dict[str, Any]:
        from authlib.oidc.core import CodeIDToken
        from joserfc import jwt
        from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
        from joserfc.jwk import KeySet
        from joserfc.jws import JWSRegistry

        meta = self.metadata()
        algorithms = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(algorithms=[a for a in algorithms if a != "none"])
        try:
            try:
                keys = KeySet.import_key_set(self._keys())  # type: ignore[arg-type]
                decoded = jwt.decode(token["id_token"], keys, registry=registry)
            except InvalidKeyIdError:  # the provider rotated its keys: fetch them once more
                keys = KeySet.import_key_set(self._keys(force=True))  # type: ignore[arg-type]
                decoded = jwt.decode(token["id_token"], keys, registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": meta["issuer"]},
                    "aud": {"essential": True, "value": self.cfg.client_id},
                    "exp": {"essential": True},
                },
                {
                    "nonce": nonce,
                    "client_id": self.cfg.client_id,
                    "access_token": token.get("access_token"),
                },
            )
            claims.validate(now=int(time.time()), leeway=self.cfg.leeway_seconds)
        except BadSignatureError:
            raise LoginRefused("the ID token's signature does not verify") from None
        except JoseError as exc:
            raise LoginRefused(
                f"the ID token was refused: {exc.error}: {exc.description}"
            ) from None
        except ValueError as exc:  # a token that is not a JWS at all
            raise LoginRefused(f"the ID token is malformed: {str(exc)[:80]}") from None
        return dict(claims)

    def _who(self, claims: dict[str, Any]) -> SignedIn:
        mapping = self.cfg.roles
        raw = claims.get(mapping.claim)
        values = {raw} if isinstance(raw, str) else {str(v) for v in raw or []}
        role: Role
        if values & set(mapping.operator):
            role = "operator"
        elif values & set(mapping.viewer):
            role = "viewer"
        else:
            raise LoginRefused(
                f"no lakecrew role: the ID token's {mapping.claim!r} claim matches none of "
                "web.oidc.roles in lakecrew.yaml"
            )
        name = claims.get(self.cfg.username_claim) or claims.get("sub")
        if not isinstance(name, str) or not name:
            raise LoginRefused(f"the ID token has no {self.cfg.username_claim!r} claim")
        return SignedIn(name[:120], role, str(claims.get("sub", "")))


def cookie_path() -> str:
    return urlparse(CALLBACK_PATH).path.rsplit("/", 1)[0]
