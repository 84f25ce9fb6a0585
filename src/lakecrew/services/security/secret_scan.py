"""Secret scanning of folders, git checkouts and workspace exports (SOP 1.4.2, 3.1.7).

`scan_files(files, detector, allow=..., baseline=...)` reads `(name, bytes)` pairs (a local
folder through `folder_files`, or a workspace export), turns each into documents
(`secret_docs.py`: notebooks in every export format, base64 and split-line views), runs the
`SecretDetector` port and returns a `SecretScan`:

- `findings`: one per (file, line, rule, secret) with rule id ``security.secret.<type>``, a
  fingerprint (``sha256:`` + 16 hex of the secret's SHA-256) and a hint that shows only the kind
  and length (``dapi…(36 chars)``) — never the secret;
- `baselined` / `allowlisted`: counts of hits a baseline or an allowlist accepted;
- `skipped`: files that could not be scanned, with why (binary, too large, broken notebook).

An allowlist file holds one entry a line: ``sha256:…`` (a fingerprint), ``path:GLOB``, ``rule:ID``
(``#`` comments). A baseline is the JSON `write_baseline` writes, or detect-secrets'
``.secrets.baseline`` (its SHA-1 ``hashed_secret`` values are matched too).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from lakecrew.core.errors import ConfigError, UsageError
from lakecrew.ports.secret_scan import Document, SecretDetector, SecretHit
from lakecrew.services.security.secret_docs import MAX_BYTES, Skipped, documents

RULE_PREFIX = "security.secret."
_SKIP_DIRS = frozenset({".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", ".tox"})
#: detectors that say "something secret-like", not what it is
GENERIC = frozenset({"Base64 High Entropy String", "Hex High Entropy String", "Secret Keyword"})
_KNOWN_PREFIX = re.compile(r"^(dapi|dose|dkea|AKIA|ASIA|AIza|ghp_|gho_|xox[abpr]-|sk-|eyJ)")


@dataclass(frozen=True)
class SecretFinding:
    """One credential in one place (no secret: a fingerprint and a shape hint)."""

    rule_id: str
    detector: str
    path: str
    line: int
    view: str  # "text", "base64" (found decoded) or "joined" (split over lines)
    fingerprint: str
    hint: str
    sha1: str = field(repr=False, default="")  # detect-secrets' hashed_secret, for baselines


@dataclass(frozen=True)
class SecretScan:
    """A scan's findings and everything it did not judge."""

    files: int
    findings: tuple[SecretFinding, ...]
    skipped: tuple[Skipped, ...]
    baselined: int = 0
    allowlisted: int = 0


@dataclass(frozen=True)
class Allowlist:
    """Fingerprints, path globs and rule ids whose hits are accepted."""

    fingerprints: frozenset[str] = frozenset()
    paths: tuple[str, ...] = ()
    rules: frozenset[str] = frozenset()

    def allows(self, f: SecretFinding) -> bool:
        return (
            f.fingerprint in self.fingerprints
            or f.rule_id in self.rules
            or any(fnmatch.fnmatch(f.path, g) for g in self.paths)
        )


def rule_id(detector: str) -> str:
    """``Databricks Token`` → ``security.secret.databricks_token``."""
    return RULE_PREFIX + re.sub(r"[^a-z0-9]+", "_", detector.lower()).strip("_")


def fingerprint(secret: str) -> str:
    return "sha256:" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def hint(secret: str) -> str:
    m = _KNOWN_PREFIX.match(secret)
    return f"{m.group(1) if m else ''}…({len(secret)} chars)"


def load_allowlist(path: Path) -> Allowlist:
    """Read an allowlist file; a bad line is a ConfigError naming file:line."""
    fps, globs, rules = set(), [], set()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"cannot read allowlist ({exc.__class__.__name__})", where=str(path)
        ) from None
    for n, raw in enumerate(text.splitlines(), start=1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        kind, _, value = entry.partition(":")
        if kind == "sha256" and re.fullmatch(r"[0-9a-f]{16}", value):
            fps.add(entry)
        elif kind == "path" and value:
            globs.append(value)
        elif kind == "rule" and value.startswith(RULE_PREFIX):
            rules.add(value)
        else:
            raise ConfigError(
                f"unknown allowlist entry {entry[:40]!r}",
                where=f"{path}:{n}",
                fix="write sha256:<16 hex>, path:<glob> or rule:security.secret.<type>",
            )
    return Allowlist(frozenset(fps), tuple(globs), frozenset(rules))


def load_baseline(path: Path) -> frozenset[str]:
    """Fingerprints (and SHA-1 hashes) a baseline accepts: lakecrew's or detect-secrets' own."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(
            f"not a baseline JSON file ({exc.__class__.__name__})",
            where=str(path),
            fix="write one with `lakecrew secrets scan PATH --write-baseline FILE`",
        ) from None
    results = doc.get("results") if isinstance(doc, dict) else None
    accepted: set[str] = set()
    if isinstance(results, dict):  # detect-secrets: {file: [{"hashed_secret": sha1}]}
        for items in results.values():
            accepted.update(str(i.get("hashed_secret")) for i in items if isinstance(i, dict))
    elif isinstance(results, list):  # lakecrew: [{"fingerprint": "sha256:…"}]
        accepted.update(str(i.get("fingerprint")) for i in results if isinstance(i, dict))
    else:
        raise UsageError("baseline has no results", where=str(path))
    return frozenset(accepted)


def baseline_json(scan: SecretScan) -> str:
    """A baseline accepting every finding of `scan` (fingerprints, paths and rules; no secret)."""
    results = [
        {"path": f.path, "line": f.line, "rule_id": f.rule_id, "fingerprint": f.fingerprint}
        for f in scan.findings
    ]
    return json.dumps({"version": 1, "generated_by": "lakecrew", "results": results}, indent=2)


def folder_files(root: Path, *, max_bytes: int = MAX_BYTES) -> Iterator[tuple[str, bytes]]:
    """`(relative path, bytes)` of every file under `root` (links and VCS folders skipped).

    A file over `max_bytes` yields only its first `max_bytes + 1` bytes, so the document step
    reports it as too large without reading it whole.
    """
    if root.is_file():
        yield root.name, _head(root, max_bytes)
        return
    if not root.is_dir():
        raise UsageError(f"{root} does not exist", where="PATH", fix="give a folder or a file")
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            yield str(path.relative_to(root)), _head(path, max_bytes)


def _head(path: Path, max_bytes: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(max_bytes + 1)


def scan_files(
    files: Iterable[tuple[str, bytes]],
    detector: SecretDetector,
    *,
    allow: Allowlist | None = None,
    baseline: frozenset[str] = frozenset(),
    max_bytes: int = MAX_BYTES,
) -> SecretScan:
    """Scan every file (see the module doc)."""
    skipped: list[Skipped] = []
    count = 0

    def docs() -> Iterator[Document]:
        nonlocal count
        for name, data in files:
            count += 1
            for item in documents(name, data, max_bytes=max_bytes):
                if isinstance(item, Skipped):
                    skipped.append(item)
                else:
                    yield item

    found: dict[tuple[str, int, str, str], SecretFinding] = {}
    for doc, hits in detector.scan(docs()):
        for h in hits:
            f = _finding(doc.name, h)
            found.setdefault((f.path, f.line, f.rule_id, f.fingerprint), f)
    specific = {(f.path, f.line) for f in found.values() if f.detector not in GENERIC}
    kept, baselined, allowed = [], 0, 0
    for f in found.values():
        if f.detector in GENERIC and (f.path, f.line) in specific:
            continue  # the same line's credential, named by a specific rule (often decoded)
        if f.fingerprint in baseline or f.sha1 in baseline:
            baselined += 1
        elif allow is not None and allow.allows(f):
            allowed += 1
        else:
            kept.append(f)
    kept.sort(key=lambda f: (f.path, f.line, f.rule_id))
    return SecretScan(count, tuple(kept), tuple(skipped), baselined, allowed)


def _finding(name: str, hit: SecretHit) -> SecretFinding:
    path, view = name, "text"
    for suffix in ("#base64", "#joined"):
        if name.endswith(suffix):
            path, view = name.removesuffix(suffix), suffix[1:]
    return SecretFinding(
        rule_id=rule_id(hit.rule),
        detector=hit.rule,
        path=path,
        line=hit.line,
        view=view,
        fingerprint=fingerprint(hit.secret),
        hint=hint(hit.secret),
        sha1=hashlib.sha1(hit.secret.encode("utf-8")).hexdigest(),
    )
