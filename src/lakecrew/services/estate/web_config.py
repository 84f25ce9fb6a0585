"""The `web:` section of lakecrew.yaml: how `lakecrew serve` signs team members in.

    web:
      oidc:                                   # OpenID Connect (Entra ID, Databricks account, ...)
        issuer: https://login.microsoftonline.com/<tenant-id>/v2.0
        client_id: 6f1c...                    # the app registration's id (not a secret)
        client_secret: {scope: lakecrew, key: oidc-client-secret}   # from the SecretStore
        redirect_url: https://lakecrew.example.org/auth/oidc/callback
        username_claim: preferred_username    # the name shown and recorded as approver
        roles:                                # claims → role; anyone matching neither is refused
          claim: groups                       # a string or a list of strings in the ID token
          operator: [lakecrew-operators]
          viewer: [lakecrew-viewers]

Local accounts (`lakecrew users`) keep working next to it. No secret lives in this file:
`client_secret` names a SecretStore entry (a public client without one uses PKCE alone).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from lakecrew.services.estate.notify_config import SecretRef, _Strict, check_url


class RoleMapping(_Strict):
    """Which ID-token claim values give which role (operator wins when both match)."""

    claim: str = Field(default="groups", min_length=1)
    operator: list[str] = Field(default_factory=list)
    viewer: list[str] = Field(default_factory=list)


class OidcConfig(_Strict):
    """One OpenID Connect provider (authorization-code flow with PKCE, state and nonce)."""

    issuer: str
    client_id: str = Field(min_length=1)
    client_secret: SecretRef | None = None
    redirect_url: str
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    username_claim: str = Field(default="email", min_length=1)
    roles: RoleMapping
    label: str = Field(default="single sign-on", min_length=1, max_length=60)
    leeway_seconds: int = Field(default=60, ge=0, le=300)

    _issuer = field_validator("issuer", "redirect_url")(check_url)

    @field_validator("scopes")
    @classmethod
    def _openid(cls, v: list[str]) -> list[str]:
        if "openid" not in v:
            raise ValueError("must include 'openid'")
        return v


class WebSettings(_Strict):
    """`lakecrew serve` settings."""

    oidc: OidcConfig | None = None
