"""Local SecretStore: environment variables first, then 0600 files in the project state dir.

Lookup order for ``get(scope, key)``:

1. the environment variable ``LAKECREW_SECRET_<SCOPE>_<KEY>`` (upper-cased, every character
   that is not a letter or digit replaced by ``_``), e.g. ``LAKECREW_SECRET_PIPELINES_HMAC_KEY``;
2. the file ``<secrets_dir>/<scope>/<key>`` (``.lakecrew/secrets/`` in a project), which must be
   readable by its owner only (mode 0600); a group/other-readable file is refused.

Values are returned as ``SecretStr`` and never logged, printed or put in an exception.
``put`` writes a file atomically with mode 0600 (the local analogue of ``databricks secrets put``).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from lakecrew.core.errors import NotFound, PermissionDenied
from lakecrew.core.files import write_atomic
from lakecrew.ports.secrets import check_secret_name

ENV_PREFIX = "LAKECREW_SECRET_"


def env_var_name(scope: str, key: str) -> str:
    """``LAKECREW_SECRET_<SCOPE>_<KEY>`` with non-alphanumerics as ``_``."""
    clean = re.sub(r"[^A-Za-z0-9]", "_", f"{scope}_{key}").upper()
    return f"{ENV_PREFIX}{clean}"


class LocalSecretStore:
    """SecretStore over the process environment and a private folder of files."""

    def __init__(self, secrets_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self._dir = secrets_dir
        self._environ = environ if environ is not None else os.environ

    def _file(self, scope: str, key: str) -> Path:
        check_secret_name(scope, key)
        return self._dir / scope / key

    def exists(self, scope: str, key: str) -> bool:
        """Whether the secret is set in the environment or as a file."""
        return env_var_name(scope, key) in self._environ or self._file(scope, key).is_file()

    def get(self, scope: str, key: str) -> SecretStr:
        """Read the secret; NotFound names the variable and the file that were searched."""
        path = self._file(scope, key)
        var = env_var_name(scope, key)
        value = self._environ.get(var)
        if value:
            return SecretStr(value)
        if path.is_file():
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise PermissionDenied(
                    f"secret file {scope}/{key} is readable by group or others",
                    where=str(path),
                    fix=f"chmod 600 {path}",
                )
            text = path.read_text(encoding="utf-8").strip()
            if text:
                return SecretStr(text)
        raise NotFound(
            f"secret {scope}/{key} is not set",
            where=f"searched ${var} and {path}",
            fix=f"export {var}=..., or write the value to {self._file(scope, key)} (mode 0600)",
        )

    def put(self, scope: str, key: str, value: SecretStr) -> Path:
        """Write the secret to its file with mode 0600, atomically; returns the path."""
        path = self._file(scope, key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        write_atomic(path, value.get_secret_value(), mode=0o600)
        return path
