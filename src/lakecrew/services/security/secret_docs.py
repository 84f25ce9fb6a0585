"""Files and notebook exports → text `Document`s for the secret scanner.

Formats (by content, then by name):

- Databricks SOURCE exports (``# Databricks notebook source``, ``-- Databricks notebook
  source``…) and any text file: the lines as they are;
- JUPYTER (``.ipynb``): every cell's source and text outputs, named ``file[cell N]``;
- DBC archives (a zip of JSON notebooks): every command of every notebook, named
  ``archive!notebook[cmd N]``;
- HTML exports: the notebook model they embed (base64 of URL-encoded JSON) is decoded and read
  as a DBC notebook.

Two extra views catch what a line-based engine misses: base64 runs (≥ 24 characters) that decode
to printable text are scanned decoded (named ``…#base64``), and string literals continued over the
next line (``"dapi0123" \\`` / ``+ "4567…"``, implicit concatenation) are scanned joined, at the
first line's number.

Bad input is reported, never silently dropped: `Skipped(name, reason)` for binary files, files
over `max_bytes`, unreadable archives and notebooks that are not valid JSON.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import json
import re
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from lakecrew.ports.secret_scan import Document

MAX_BYTES = 5_000_000
_B64 = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=_-])")
_CONTINUED = re.compile(r"""(?P<head>.*?)(?P<q>["'])(?P<lit>[^"']*)(?P=q)\s*(?:\\|\+)?\s*$""")
_CONTINUATION = re.compile(r"""^\s*\+?\s*(?P<q>["'])(?P<lit>[^"']*)(?P=q)(?P<tail>.*)$""")
_HTML_MODEL = re.compile(r"__DATABRICKS_NOTEBOOK_MODEL\s*=\s*'([A-Za-z0-9+/=]+)'")


@dataclass(frozen=True)
class Skipped:
    """A file or member the scanner could not read, and why (shown in the scan's output)."""

    name: str
    reason: str


def documents(
    name: str, data: bytes, *, max_bytes: int = MAX_BYTES
) -> Iterator[Document | Skipped]:
    """The documents of one file's bytes (see the module doc), or why it was skipped."""
    if len(data) > max_bytes:
        yield Skipped(name, f"{len(data)} bytes is over the {max_bytes}-byte limit (--max-bytes)")
        return
    if data[:4] == b"PK\x03\x04":
        yield from _dbc(name, data)
        return
    if b"\x00" in data[:8192]:
        yield Skipped(name, "binary file")
        return
    text = data.decode("utf-8", errors="replace")
    if name.endswith(".ipynb") or (text.lstrip().startswith("{") and '"cells"' in text[:4096]):
        yield from _jupyter(name, text)
        return
    model = _HTML_MODEL.search(text) if name.endswith((".html", ".htm")) else None
    if model:
        yield from _html(name, model.group(1))
        return
    yield from text_documents(name, text)


def text_documents(name: str, text: str) -> Iterator[Document]:
    """Plain text: its lines, plus its base64-decoded and joined-literal views."""
    lines = list(enumerate(text.splitlines(), start=1))
    yield Document(name, lines)
    joined = _joined(lines)
    if joined:
        yield Document(f"{name}#joined", joined)
    decoded = _decoded(lines)
    if decoded:
        yield Document(f"{name}#base64", decoded)


def _joined(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for (n, line), (_, nxt) in itertools.pairwise(lines):
        head, cont = _CONTINUED.match(line), _CONTINUATION.match(nxt)
        if head and cont and (line.rstrip().endswith(("\\", "+")) or nxt.lstrip()[:1] in "+\"'"):
            q = head.group("q")
            out.append((n, f"{head.group('head')}{q}{head.group('lit')}{cont.group('lit')}{q}"))
    return out


def _decoded(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for n, line in lines:
        for m in _B64.finditer(line):
            try:
                raw = base64.b64decode(m.group(0), validate=True)
            except (binascii.Error, ValueError):
                continue
            text = raw.decode("utf-8", errors="strict") if raw.isascii() else ""
            if text and sum(c.isprintable() or c in "\n\t" for c in text) == len(text):
                out.extend((n, part) for part in text.splitlines() if part.strip())
    return out


def _jupyter(name: str, text: str) -> Iterator[Document | Skipped]:
    try:
        nb = json.loads(text)
    except ValueError as exc:
        yield Skipped(name, f"not valid notebook JSON (line {getattr(exc, 'lineno', '?')})")
        return
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        yield Skipped(name, "JSON without a cells list")
        return
    for i, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        parts = [_text(cell.get("source"))]
        for output in cell.get("outputs") or ():
            if isinstance(output, dict):
                parts.append(_text(output.get("text")))
                data = output.get("data")
                if isinstance(data, dict):
                    parts.append(_text(data.get("text/plain")))
        yield from text_documents(f"{name}[cell {i}]", "\n".join(p for p in parts if p))


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return value if isinstance(value, str) else ""


def _dbc(name: str, data: bytes) -> Iterator[Document | Skipped]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = [m for m in archive.infolist() if not m.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        yield Skipped(name, f"unreadable zip/DBC archive ({exc.__class__.__name__})")
        return
    for member in members:
        label = f"{name}!{member.filename}"
        if member.file_size > MAX_BYTES:
            yield Skipped(label, f"{member.file_size} bytes is over the {MAX_BYTES}-byte limit")
            continue
        try:
            raw = archive.read(member)
        except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
            yield Skipped(label, f"unreadable archive member ({exc.__class__.__name__})")
            continue
        yield from _dbc_notebook(label, raw)


def _dbc_notebook(label: str, raw: bytes) -> Iterator[Document | Skipped]:
    try:
        nb = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        yield from documents(label, raw)  # not a notebook: scan it as a plain member
        return
    commands = nb.get("commands") if isinstance(nb, dict) else None
    if not isinstance(commands, list):
        yield from text_documents(label, raw.decode("utf-8"))
        return
    for i, cmd in enumerate(commands, start=1):
        if isinstance(cmd, dict):
            results = cmd.get("results")
            parts = [_text(cmd.get("command")), json.dumps(results) if results else ""]
            yield from text_documents(f"{label}[cmd {i}]", "\n".join(p for p in parts if p))


def _html(name: str, encoded: str) -> Iterator[Document | Skipped]:
    try:
        model = urllib.parse.unquote(base64.b64decode(encoded).decode("utf-8"))
    except (binascii.Error, ValueError):
        yield Skipped(name, "HTML export with an unreadable notebook model")
        return
    yield from _dbc_notebook(name, model.encode("utf-8"))
