"""The `web.oidc` section of lakecrew.yaml: https issuer, openid scope, a SecretStore reference
for the client secret (never an inline secret), each problem with its file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakecrew.services.estate.config import INSECURE_HOSTS_ENV, load_estate
from lakecrew.services.estate.yamlpos import ConfigProblems
from lakecrew.testing.databricks_project import project_yaml

OIDC = """web:
  oidc:
    issuer: {issuer}
    client_id: lakecrew
    client_secret: {secret}
    redirect_url: https://lakecrew.example.org/auth/oidc/callback
    scopes: {scopes}
    roles: {{claim: groups, operator: [ops]}}
"""


def _load(tmp_path: Path, **kw: str) -> object:
    values = {"issuer": "https://login.example.org/tenant/v2.0",
              "secret": "{scope: lakecrew, key: oidc-client-secret}",
              "scopes": "[openid, email]", **kw}  # fmt: skip
    path = tmp_path / "lakecrew.yaml"
    path.write_text(project_yaml() + OIDC.format(**values), encoding="utf-8")
    return load_estate(path, require_approved=False)


def test_a_valid_oidc_section_loads(tmp_path: Path) -> None:
    cfg = _load(tmp_path)
    oidc = cfg.web.oidc  # type: ignore[attr-defined]
    assert oidc.issuer == "https://login.example.org/tenant/v2.0"
    assert str(oidc.client_secret) == "lakecrew/oidc-client-secret"
    assert oidc.roles.operator == ["ops"] and oidc.roles.viewer == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"issuer": "http://login.example.org"}, "issuer"),
        ({"scopes": "[email]"}, "openid"),
        ({"secret": "s3cr3t-inline-value"}, "client_secret"),
    ],
)
def test_bad_oidc_sections_are_refused_with_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: dict[str, str], problem: str
) -> None:
    monkeypatch.delenv(INSECURE_HOSTS_ENV, raising=False)
    with pytest.raises(ConfigProblems) as err:
        _load(tmp_path, **change)
    text = str(err.value)
    assert problem in text and "lakecrew.yaml:" in text, text
