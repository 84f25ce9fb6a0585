"""Security services wired to their adapters: the secret scanner over detect-secrets."""

from __future__ import annotations

from pathlib import Path

from lakecrew.adapters.scan.detector import DetectSecretsDetector
from lakecrew.services.security.secret_docs import MAX_BYTES
from lakecrew.services.security.secret_scan import (
    SecretScan,
    folder_files,
    load_allowlist,
    load_baseline,
    scan_files,
)


def scan_path(
    path: Path,
    *,
    allowlist: Path | None = None,
    baseline: Path | None = None,
    max_bytes: int = MAX_BYTES,
) -> SecretScan:
    """`lakecrew secrets scan PATH`: a local folder, git checkout or exported file."""
    allow = load_allowlist(allowlist) if allowlist else None
    accepted = load_baseline(baseline) if baseline else frozenset()
    return scan_files(
        folder_files(path, max_bytes=max_bytes),
        DetectSecretsDetector(),
        allow=allow,
        baseline=accepted,
        max_bytes=max_bytes,
    )
