"""SecretDetector port: find credentials in lines of text (the engine behind `secrets scan`).

The service (`services/security/secret_scan.py`) turns files, notebooks (SOURCE, JUPYTER, DBC)
and workspace exports into `Document`s; a detector returns `SecretHit`s. A hit holds the secret
in memory only so the service can fingerprint it: it is never stored, printed or logged
(`repr` hides it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Document:
    """Text to scan: a display name (path, notebook cell) and numbered lines."""

    name: str
    lines: Sequence[tuple[int, str]]


@dataclass(frozen=True)
class SecretHit:
    """One credential found on one line (`secret` is never shown)."""

    line: int
    rule: str
    secret: str = field(repr=False)


class SecretDetector(Protocol):
    """Scans documents; one engine configuration for the whole iteration."""

    def rules(self) -> tuple[str, ...]: ...

    def scan(self, documents: Iterable[Document]) -> Iterator[tuple[Document, list[SecretHit]]]:
        """Each document with its hits, in order (lazily: a document is scanned when reached)."""
        ...
