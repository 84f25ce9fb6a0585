"""Decoding and parsing of text files (JSON, JSON lines; CSV: csvscan.py, csvstream.py) + rejects.

Nothing is silently dropped: a row that does not parse becomes a ``Rejected`` with its line
number, the reason and its raw text, for the caller to quarantine.
"""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from lakecrew.adapters.sources.checkpoint import json_text_columns
from lakecrew.core.errors import DataError
from lakecrew.ports.source import Rejected

BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass
class Parsed:
    """Accepted records as string columns, their row numbers and raw text, plus rejects."""

    columns: dict[str, pa.Array | list[Any]]
    rows: list[int]
    raw: list[str | None] | None = None
    rejected: tuple[Rejected, ...] = ()
    notes: tuple[str, ...] = field(default=())


def decode_bytes(data: bytes, encoding: str | None, *, where: str) -> tuple[str, str]:
    """Decode ``data``; returns ``(text, encoding used)``.

    A declared encoding is applied strictly (a mismatch is a ``DataError`` naming the line).
    Without one: a BOM decides, else UTF-8, else charset-normalizer's best guess.
    """
    if encoding is not None:
        return _strict(data, encoding, where), encoding
    for bom, name in BOMS:
        if data.startswith(bom):
            return _strict(data, name, where), name
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _detect(data, where)


PREFERRED_ON_TIE = ("cp1252", "utf_16", "iso8859_1", "iso8859_15")
"""West African legacy data is mostly French/English/Portuguese Windows text: on a tie
between equally plausible 8-bit code pages, take these first."""


def _detect(data: bytes, where: str) -> tuple[str, str]:
    chosen = detect_encoding(data, where)
    return _strict(data, chosen, where), chosen


def detect_encoding(data: bytes, where: str) -> str:
    """charset-normalizer's best guess for ``data`` (ties go to ``PREFERRED_ON_TIE``)."""
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise DataError(
            "cannot determine the text encoding (not UTF-8, no plausible guess)",
            where=where,
            fix="declare the encoding on the source (e.g. encoding: cp1252)",
        )
    best = matches[0]
    tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
    rank = {name: i for i, name in enumerate(PREFERRED_ON_TIE)}
    return str(min(tied, key=lambda m: rank.get(m.encoding, len(rank))).encoding)


def _strict(data: bytes, encoding: str, where: str) -> str:
    try:
        return data.decode(encoding)
    except LookupError as exc:
        raise DataError(f"unknown encoding {encoding!r}", where=where) from exc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DataError(
            f"not valid {encoding} (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            where=f"{where}:{line}",
            fix="declare the file's real encoding (e.g. cp1252, latin-1, utf-16) "
            "or leave the encoding unset to detect it",
        ) from exc


def header_names(fields: list[str]) -> list[str]:
    names: list[str] = []
    for i, raw in enumerate(fields):
        base = raw.strip() or f"_c{i}"
        name, n = base, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    return names


def parse_json_lines(text: str, *, uri: str) -> Parsed:
    """Parse JSON lines; each line must be one JSON object, else it is rejected."""
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    raws: list[str | None] = []
    rejected: list[Rejected] = []
    parts = text.split("\n")
    for i, part in enumerate(parts, start=1):
        line = part.rstrip("\r")
        if not line.strip():
            continue
        last = i == len(parts)
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON ({exc.msg} at column {exc.colno})"
            if last:
                reason = f"truncated last line (no line end): {reason}"
            rejected.append(Rejected(uri, i, reason, part))
            continue
        if not isinstance(value, dict):
            rejected.append(Rejected(uri, i, "JSON line is not an object", part))
            continue
        records.append(value)
        rows.append(i)
        raws.append(line)
    return Parsed(json_text_columns(records), rows, raws, tuple(rejected))


def parse_json_array(text: str, *, uri: str, records_key: str | None) -> Parsed:
    """Parse a JSON array of objects (or ``{records_key: [...]}``); keeps each record's text."""
    body = text.lstrip("\ufeff \t\r\n")
    if body.startswith("{") or records_key is not None:
        return _json_object(text, uri=uri, records_key=records_key)
    decoder = json.JSONDecoder()
    items: list[tuple[Any, str]] = []
    rejected: list[Rejected] = []
    pos = _skip_ws(body, 0)
    if not body.startswith("["):
        return Parsed({}, [], [], (Rejected(uri, None, "not a JSON array or object", text),))
    pos = _skip_ws(body, 1)
    while pos < len(body) and body[pos] != "]":
        try:
            value, end = decoder.raw_decode(body, pos)
        except json.JSONDecodeError as exc:
            reason = (
                f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg}); "
                f"records from #{len(items) + 1} on kept as one reject"
            )
            rejected.append(Rejected(uri, len(items) + 1, reason, body[pos:]))
            break
        items.append((value, body[pos:end]))
        pos = _skip_ws(body, end)
        if pos < len(body) and body[pos] == ",":
            pos = _skip_ws(body, pos + 1)
    else:
        if pos >= len(body):
            reason = f"truncated JSON array (no closing bracket) after record #{len(items)}"
            rejected.append(Rejected(uri, len(items) + 1, reason, ""))
    return _records(items, uri, rejected)


def _json_object(text: str, *, uri: str, records_key: str | None) -> Parsed:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        reason = f"invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        return Parsed({}, [], [], (Rejected(uri, None, reason, text),))
    if isinstance(doc, list) and records_key is None:
        items = [(v, json.dumps(v, ensure_ascii=False)) for v in doc]
        return _records(items, uri, [])
    records = doc.get(records_key) if isinstance(doc, dict) and records_key else None
    if not isinstance(records, list):
        keys = ", ".join(sorted(doc)[:8]) if isinstance(doc, dict) else type(doc).__name__
        raise DataError(
            f"no array of records under key {records_key!r} (top-level keys: {keys})",
            where=uri,
            fix="set json.records_key to the key that holds the records",
        )
    items = [(v, json.dumps(v, ensure_ascii=False, separators=(",", ":"))) for v in records]
    return _records(items, uri, [])


def _records(items: list[tuple[Any, str]], uri: str, rejected: list[Rejected]) -> Parsed:
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    raws: list[str | None] = []
    for i, (value, raw) in enumerate(items, start=1):
        if isinstance(value, dict):
            records.append(value)
            rows.append(i)
            raws.append(raw)
        else:
            rejected.append(Rejected(uri, i, "JSON record is not an object", raw))
    rejected.sort(key=lambda r: r.row or 0)
    return Parsed(json_text_columns(records), rows, raws, tuple(rejected))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos
