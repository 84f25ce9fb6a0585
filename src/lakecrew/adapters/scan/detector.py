"""The SecretDetector port over detect-secrets 1.5.0's engine, plugins and filters.

`DetectSecretsDetector(profile)`:

- ``"lakecrew"``: detect-secrets' default plugins and filters (inline ``pragma: allowlist
  secret`` included) plus lakecrew's plugins (`plugins.py`: Databricks tokens, Google and Azure
  keys, URLs and JDBC strings with a password); lines that cannot hold a credential (no key
  word, no long token, no ``://…@``, no key header) skip the engine; on a line where a specific
  rule fired, the generic entropy / keyword hits of the same line are dropped; detect-secrets'
  ``is_indirect_reference`` line filter (``x = f(…)``) drops only generic hits, so a token
  passed to a call (``WorkspaceClient(token='dapi…')``) is still found; an entropy hit counts
  only on a line naming a credential (key, secret, token, pass…), as gitleaks' generic rule does
  — commit hashes, checksums and etags are not secrets;
- ``"detect-secrets"``: the default plugins and filters alone, every line (the benchmark's
  baseline).

detect-secrets keeps its configuration in process-global settings; `scan` holds them (through
`transient_settings`) for the length of one iteration and restores them afterwards. The engine's
line scan (`_process_line_based_plugins`) is the function its own `scan_file` uses; it is called
directly because documents are already decoded (notebook cells, base64, joined lines).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from lakecrew.ports.secret_scan import Document, SecretHit

Profile = Literal["lakecrew", "detect-secrets"]
_GENERIC = frozenset(
    {
        "Base64 High Entropy String",
        "Hex High Entropy String",
        "Secret Keyword",
        "Basic Auth Credentials",
    }
)
_ENTROPY = frozenset({"Base64 High Entropy String", "Hex High Entropy String"})
_CREDENTIAL_WORD = re.compile(r"(?i)key|secret|token|pass|pwd|auth|cred|private|bearer|signature")
_INDIRECT = "detect_secrets.filters.heuristic.is_indirect_reference"
_NOT_SECRETS = frozenset({"IPPublicDetector"})  # an address is not a credential
_MAYBE = re.compile(
    r"(?i)pass|pwd|secret|token|key|auth|cred|bearer|-----BEGIN|://[^\s/@]*:[^\s/@]*@"
    r"|[A-Za-z0-9+/=_-]{20,}"
)


class DetectSecretsDetector:
    """See the module doc."""

    def __init__(self, profile: Profile = "lakecrew") -> None:
        self.profile = profile

    def _config(self) -> dict[str, object]:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        get_mapping_from_secret_type_to_class.cache_clear()
        known: dict[str, type] = get_mapping_from_secret_type_to_class()
        names = [{"name": c.__name__} for c in known.values()]
        if self.profile == "lakecrew":
            names = [n for n in names if n["name"] not in _NOT_SECRETS]
            path = f"file://{Path(__file__).with_name('plugins.py')}"
            from lakecrew.adapters.scan import plugins

            ours: tuple[type, ...] = (
                plugins.DatabricksTokenDetector,
                plugins.GoogleCloudKeyDetector,
                plugins.AzureClientSecretDetector,
                plugins.PasswordUrlDetector,
                plugins.JdbcPasswordDetector,
            )
            names += [{"name": c.__name__, "path": path} for c in ours]
        return {"plugins_used": names}

    @contextmanager
    def _settings(self) -> Iterator[None]:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.settings import (
            get_filters,
            get_plugins,
            get_settings,
            transient_settings,
        )

        config = self._config()
        try:
            with transient_settings(config):
                get_mapping_from_secret_type_to_class.cache_clear()  # now with our plugins
                get_plugins.cache_clear()
                if self.profile == "lakecrew":
                    get_settings().disable_filters(_INDIRECT)  # applied to generic hits only
                    get_filters.cache_clear()
                yield
        finally:
            get_mapping_from_secret_type_to_class.cache_clear()

    def rules(self) -> tuple[str, ...]:
        from detect_secrets.settings import get_plugins

        with self._settings():
            return tuple(sorted(p.secret_type for p in get_plugins()))

    def scan(self, documents: Iterable[Document]) -> Iterator[tuple[Document, list[SecretHit]]]:
        from detect_secrets.core.scan import _process_line_based_plugins

        with self._settings():
            for doc in documents:
                lines = list(doc.lines)
                if self.profile == "lakecrew":
                    lines = [(n, t) for n, t in lines if _MAYBE.search(t)]
                found = _process_line_based_plugins(lines, filename=doc.name) if lines else []
                hits = [SecretHit(s.line_number, s.type, s.secret_value or "") for s in found]
                if self.profile == "lakecrew":
                    text = dict(lines)
                    hits = [h for h in hits if not _indirect_generic(h, text.get(h.line, ""))]
                    hits = _specific_first(hits)
                yield doc, hits


def _indirect_generic(hit: SecretHit, line: str) -> bool:
    """A generic hit that is not a credential: detect-secrets' `is_indirect_reference`
    (``x = f(...)``, applied to generic hits only: a token passed to a call is still a token), or
    an entropy hit on a line that names no credential (a commit hash, a checksum, an etag)."""
    from detect_secrets.filters.heuristic import is_indirect_reference

    if hit.rule not in _GENERIC:
        return False
    if hit.rule in _ENTROPY and not _CREDENTIAL_WORD.search(line):
        return True
    return bool(is_indirect_reference(line))


def _specific_first(hits: list[SecretHit]) -> list[SecretHit]:
    """On a line where a specific rule fired, drop the generic hits of that line."""
    specific = {h.line for h in hits if h.rule not in _GENERIC}
    return [h for h in hits if h.rule not in _GENERIC or h.line not in specific]
