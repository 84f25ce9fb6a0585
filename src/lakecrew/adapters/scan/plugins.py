"""lakecrew's own detect-secrets plugins (loaded by detect-secrets from this file's path).

Rules the default plugins lack, for the credentials this estate actually holds: Databricks
personal access tokens and service-principal OAuth secrets, Google API keys and service-account
private key ids, Azure client secrets next to their key word, URLs with a password for
PostgreSQL / DHIS2 / ODK Central / any scheme, and JDBC strings carrying a password.
Each class keeps detect-secrets' contract: a `secret_type` and `denylist` regexes whose first
group (or whole match) is the secret.
"""

from __future__ import annotations

import re

from detect_secrets.plugins.base import RegexBasedDetector


class DatabricksTokenDetector(RegexBasedDetector):
    """Databricks personal access tokens (dapi…) and service-principal OAuth secrets (dose…)."""

    secret_type = "Databricks Token"
    denylist = (re.compile(r"\b((?:dapi|dose|dkea)[0-9a-f]{32}(?:-\d)?)(?![0-9a-f])"),)


class GoogleCloudKeyDetector(RegexBasedDetector):
    """Google API keys and service-account key ids in a key file."""

    secret_type = "Google Cloud Key"
    denylist = (
        re.compile(r"\b(AIza[0-9A-Za-z_-]{35})\b"),
        re.compile(r"""["']private_key_id["']\s*:\s*["']([0-9a-f]{40})["']"""),
    )


class AzureClientSecretDetector(RegexBasedDetector):
    """An Azure AD application's client secret assigned to a client-secret-like name."""

    secret_type = "Azure Client Secret"
    denylist = (
        re.compile(
            r"""(?i)(?:client|azure|aad|arm)[_-]?secret["']?\s*[:=]\s*["']?"""
            r"""([A-Za-z0-9~._-]{3}8Q~[A-Za-z0-9~._-]{31,34}|[A-Za-z0-9._~+/=-]{32,44})"""
        ),
    )


class PasswordUrlDetector(RegexBasedDetector):
    """postgres://, DHIS2, ODK Central or any other URL written with user:password@host."""

    secret_type = "URL With Password"
    denylist = (
        re.compile(
            r"""\b[a-z][a-z0-9+.-]{1,20}://[^\s:/@"'<>]{1,64}:([^\s/@"'<>{}$]{3,128})@[\w.-]+"""
        ),
    )


class JdbcPasswordDetector(RegexBasedDetector):
    """JDBC connection strings with the password in the URL (`;password=`, `?password=`)."""

    secret_type = "JDBC Password"
    denylist = (re.compile(r"""(?i)jdbc:[a-z0-9]+:[^\s"']*?[;?&]password=([^;&\s"'{}$]{3,128})"""),)
