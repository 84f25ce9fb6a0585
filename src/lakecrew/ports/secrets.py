"""SecretStore port: read a secret from a scope, as Databricks secret scopes do.

The value comes back as pydantic's ``SecretStr``: its ``repr``/``str`` print ``**********``, so
an accidental log line, f-string or exception never shows it; only ``get_secret_value()`` does,
and callers use it at the one point where the key is needed (e.g. the HMAC in services/privacy).

Adapters: ``adapters/local/secrets.py`` (environment variables, then 0600 files under the
project state dir); a Databricks adapter would read secret scopes.
"""

from __future__ import annotations

import re
from typing import Protocol

from pydantic import SecretStr

from lakecrew.core.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_secret_name(scope: str, key: str) -> None:
    """Scope and key names: letters, digits, ``_``, ``-``, ``.`` (as Databricks allows)."""
    for label, value in (("scope", scope), ("key", key)):
        if not _NAME.match(value) or ".." in value:
            raise UsageError(
                f"invalid secret {label} name",
                where=f"secret {label}",
                fix="use 1-128 letters, digits, '_', '-' or '.' (no '..')",
            )


class SecretStore(Protocol):
    """Where lakecrew reads secrets from. Implementations never log or echo values."""

    def get(self, scope: str, key: str) -> SecretStr:
        """The secret ``scope/key``; NotFound (naming every place searched) when absent."""
        ...

    def exists(self, scope: str, key: str) -> bool:
        """Whether ``scope/key`` is defined, without reading it into the caller."""
        ...
