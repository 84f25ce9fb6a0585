"""File source with Auto Loader semantics: each file is ingested exactly once, even after a crash.

Formats: CSV (any encoding, delimiter, quoting; malformed rows kept as rejects), JSON (one array
of objects, or an object holding one), JSON lines, Parquet. CSV is scanned (csvscan.py) and
streamed (csvstream.py) in batches of at most ``batch_rows`` rows; only a file of at most
``csvscan.IN_MEMORY`` bytes (128 MiB) is held whole, for its one read, so a larger file of any
size never is. The first batch of a file has the file's batch id, later ones add their index.
Only the token of a file's last batch records the file in the checkpoint (``(path, size, mtime,
sha256)``, written atomically): a crash mid-file re-reads it, and bronze skips the rows it
already holds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.parquet as pq

from lakecrew.adapters.sources.checkpoint import JsonCheckpoint, batch_id, with_metadata
from lakecrew.adapters.sources.csvscan import Dialect, scan_file
from lakecrew.adapters.sources.csvstream import stream_csv
from lakecrew.adapters.sources.readahead import read_ahead
from lakecrew.adapters.sources.textformats import (
    decode_bytes,
    parse_json_array,
    parse_json_lines,
)
from lakecrew.core.errors import DataError, NotFound, Transient, UsageError
from lakecrew.ports.source import Batch, CheckpointToken, Rejected

FileFormat = Literal["csv", "json", "jsonl", "parquet"]
TRUNCATED = "truncated last line"
OnChange = Literal["reingest", "error", "ignore"]
_SUFFIX_FORMATS: dict[str, FileFormat] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}


@dataclass(frozen=True)
class CsvOptions:
    """How to read CSV text. ``encoding=None`` means: UTF-8, else detect (and report) it."""

    delimiter: str = ","
    quotechar: str = '"'
    header: bool = True
    encoding: str | None = None


@dataclass(frozen=True)
class JsonOptions:
    """``records_key`` selects the array inside a top-level JSON object (e.g. ``dataValues``)."""

    records_key: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class FileEntry:
    """A discovered file and its identity at discovery time."""

    path: Path
    key: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class FileSource:
    """Incremental file discovery + reading under ``root`` matching ``pattern``.

    A committed file whose size or mtime changed and whose sha256 differs is *changed*:
    ``on_change="reingest"`` (default) reads it again as a new version (its batch id derives
    from the new sha256, so bronze keeps both), ``"error"`` raises DataError, ``"ignore"``
    skips it with a note. ``allow_overwrites`` is the older spelling of ``reingest``.
    A root with no file matching ``pattern`` is an error unless ``allow_no_files``.
    ``batch_rows`` bounds the accepted rows of one CSV batch (and so the memory of a run).
    ``rewind()`` makes this instance read every file again (``--full-refresh``).
    """

    name: str
    root: Path
    checkpoint_path: Path
    pattern: str = "*"
    format: FileFormat | None = None
    csv: CsvOptions = field(default_factory=CsvOptions)
    json: JsonOptions = field(default_factory=JsonOptions)
    allow_overwrites: bool = False
    batch_rows: int = 1_000_000
    on_change: OnChange = "reingest"
    allow_no_files: bool = False
    _rewound: list[bool] = field(default_factory=list, repr=False, compare=False)

    def rewind(self) -> None:
        """Read every matching file again on ``read`` (bronze skips rows it already holds)."""
        self._rewound.append(True)

    def _entries(self) -> list[FileEntry]:
        if not self.root.is_dir():
            raise NotFound(
                "input directory does not exist",
                where=str(self.root),
                fix="create it or correct the source path in the pipeline spec",
            )
        found = []
        for path in sorted(self.root.rglob(self.pattern)):
            if not path.is_file() or path.name.startswith("."):
                continue
            st = path.stat()
            key = path.relative_to(self.root).as_posix()
            found.append(FileEntry(path, key, st.st_size, st.st_mtime_ns))
        if not found and not self.allow_no_files:
            raise NotFound(
                f"no file matches {self.pattern!r}",
                where=str(self.root),
                fix="correct source.options path/pattern, or set allow_no_files: true if an "
                "empty drop folder is expected",
            )
        return found

    def _pending(self) -> list[tuple[FileEntry, str]]:
        """(file, why) for each file to read: ``new``, ``changed`` or ``re-read``."""
        done: dict[str, Any] = JsonCheckpoint(self.checkpoint_path).load().get("files", {})
        pending = []
        for entry in self._entries():
            seen = done.get(entry.key)
            if seen is None:
                pending.append((entry, "new"))
            elif _changed(entry, seen):
                if self.on_change == "error" and not self.allow_overwrites:
                    raise DataError(
                        "file changed since it was ingested (size, mtime and sha256 differ)",
                        where=str(entry.path),
                        fix="restore it, or set source.options on_change: reingest to load the "
                        "new version (ignore: keep the old one)",
                    )
                if self.on_change != "ignore" or self.allow_overwrites:
                    pending.append((entry, "changed"))
            elif self._rewound:
                pending.append((entry, "re-read"))
        return pending

    def discover(self) -> Sequence[str]:
        """Relative paths of the files to read, in name order; changed ones say so."""
        return [e.key if why == "new" else f"{e.key} ({why})" for e, why in self._pending()]

    def skipped_changes(self) -> list[str]:
        """Changed files left alone because ``on_change`` is ``ignore``."""
        if self.on_change != "ignore" or self.allow_overwrites:
            return []
        done: dict[str, Any] = JsonCheckpoint(self.checkpoint_path).load().get("files", {})
        return [e.key for e in self._entries() if e.key in done and _changed(e, done[e.key])]

    def read(self) -> Iterator[Batch]:
        """Batches of every pending file; a file that vanished since discovery raises NotFound.

        The next batch is read and parsed in the background while the caller handles this one
        (``read_ahead``); checkpoints are committed by the caller, in order, as before.
        """
        yield from read_ahead(self._read_all())

    def _read_all(self) -> Iterator[Batch]:
        ignored = self.skipped_changes()
        for entry, why in self._pending():
            note = f"{entry.key} changed since it was ingested: loaded as a new version"
            for batch in self.read_batches(entry):
                yield replace(batch, notes=(*batch.notes, note)) if why == "changed" else batch
        if ignored:
            token = CheckpointToken(self.name, "", json.dumps({"note": True}))
            notes = tuple(f"{k} changed but on_change is ignore: not re-read" for k in ignored)
            yield Batch("", self.name, pa.table({}), token, notes=notes)

    def read_file(self, entry: FileEntry) -> list[Batch]:
        """Every batch of one discovered file (see ``read_batches``)."""
        return list(self.read_batches(entry))

    def read_batches(self, entry: FileEntry) -> Iterator[Batch]:
        """Read one discovered file as batches (rejects included); CSV is streamed."""
        fmt = self.format or _format_of(entry.path)
        if fmt == "csv":
            yield from self._csv_batches(entry)
            return
        yield self._whole_file(entry, fmt)

    def _csv_batches(self, entry: FileEntry) -> Iterator[Batch]:
        uri = str(entry.path)
        opts = self.csv
        try:
            dialect = Dialect(opts.delimiter, opts.quotechar, opts.header, self.batch_rows)
            scan = scan_file(entry.path, opts.encoding, dialect)
        except FileNotFoundError as exc:
            raise _vanished(entry) from exc
        base = batch_id(self.name, entry.key, scan.sha256)
        state = {"key": entry.key, "size": scan.size, "mtime_ns": entry.mtime_ns}
        notes: tuple[str, ...] = ()
        if opts.encoding is None and scan.encoding not in ("utf-8", "utf-8-sig"):
            notes = (
                f"not UTF-8: decoded as {scan.encoding} (detected; declare the encoding to pin it)",
            )
        for index, chunk in enumerate(stream_csv(entry.path, scan, dialect)):
            bid = base if index == 0 else batch_id(base, index)
            if chunk.last:
                _unchanged(entry, scan.size)
                _not_truncated(entry, chunk.rejected)
                if not len(chunk.rows) and index == 0:
                    what = "empty" if not scan.size or not len(scan.starts) else "header only"
                    notes = (*notes, f"{entry.key}: {what}, no rows")
            info = {**state, "sha256": scan.sha256} if chunk.last else {"partial": True}
            token = CheckpointToken(self.name, bid, json.dumps(info))
            out = with_metadata(
                chunk.columns, uri=uri, rows=chunk.rows, bid=bid, where=uri, sha256=scan.sha256
            )
            rej = tuple(chunk.rejected)
            note = notes + ((f"{len(rej)} malformed CSV rows rejected",) if rej else ())
            yield Batch(bid, self.name, out, token, rej, scan.encoding, note)

    def _whole_file(self, entry: FileEntry, fmt: FileFormat) -> Batch:
        try:
            data = entry.path.read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(
                "file disappeared between discovery and reading",
                where=str(entry.path),
                fix="nothing was committed for it; re-run ingestion once the file is in place",
            ) from exc
        digest = hashlib.sha256(data).hexdigest()
        bid = batch_id(self.name, entry.key, digest)
        uri = str(entry.path)
        state = {"key": entry.key, "size": len(data), "mtime_ns": entry.mtime_ns, "sha256": digest}
        token = CheckpointToken(self.name, bid, json.dumps(state))
        if fmt == "parquet":
            table = _read_parquet(entry.path)
            rows = list(range(1, table.num_rows + 1))
            columns = {name: table.column(name) for name in table.column_names}
            out = with_metadata(columns, uri=uri, rows=rows, bid=bid, where=uri, sha256=digest)
            return Batch(bid, self.name, out, token)
        encoding = self.json.encoding
        text, used = decode_bytes(data, encoding, where=uri)
        if fmt == "jsonl":
            parsed = parse_json_lines(text, uri=uri)
        else:
            parsed = parse_json_array(text, uri=uri, records_key=self.json.records_key)
        out = with_metadata(
            parsed.columns,
            uri=uri,
            rows=parsed.rows,
            bid=bid,
            raw=parsed.raw,
            where=uri,
            sha256=digest,
        )
        _not_truncated(entry, parsed.rejected)
        notes = parsed.notes
        if not parsed.rows:
            notes += (f"{entry.key}: empty, no records",)
        if encoding is None and used != "utf-8":
            notes += (f"not UTF-8: decoded as {used} (detected; declare the encoding to pin it)",)
        return Batch(bid, self.name, out, token, parsed.rejected, used, notes)

    def commit(self, token: CheckpointToken) -> None:
        """Record the file of ``token`` as ingested (atomic checkpoint replace)."""
        if token.source != self.name:
            raise UsageError(
                f"checkpoint token of source {token.source!r} given to source {self.name!r}"
            )
        store = JsonCheckpoint(self.checkpoint_path)
        state = store.load()
        info = json.loads(token.state)
        if info.get("partial") or info.get("note"):
            return  # a file is recorded only with its last batch; a note records nothing
        files = state.setdefault("files", {})
        files[info.pop("key")] = {**info, "batch_id": token.batch_id}
        store.save(state)


def _vanished(entry: FileEntry) -> NotFound:
    return NotFound(
        "file disappeared between discovery and reading",
        where=str(entry.path),
        fix="nothing was committed for it; re-run ingestion once the file is in place",
    )


def _unchanged(entry: FileEntry, size: int) -> None:
    """The file was read in two passes (scan, parse): refuse one that changed in between."""
    try:
        st = entry.path.stat()
    except FileNotFoundError as exc:
        raise _vanished(entry) from exc
    if st.st_size != size or st.st_mtime_ns != entry.mtime_ns:
        raise Transient(
            "file changed while it was being read",
            where=str(entry.path),
            fix="nothing was committed for it; re-run once the upload has finished",
        )


def _not_truncated(entry: FileEntry, rejected: Sequence[Rejected]) -> None:
    """A last line cut off (no line end, does not parse) is an unfinished upload: fail the file."""
    cut = next((r for r in rejected if r.reason.startswith(TRUNCATED)), None)
    if cut is not None:
        raise DataError(
            f"the last line (line {cut.row}) is cut off: no line end and it does not parse",
            where=str(entry.path),
            fix="nothing of this file was committed; it is read again on the next run once the "
            "upload is complete (or fix the file)",
        )


def _format_of(path: Path) -> FileFormat:
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of a {path.suffix or 'suffix-less'} file",
            where=str(path),
            fix="set format: csv | json | jsonl | parquet on the source",
        )
    return fmt


def _changed(entry: FileEntry, seen: dict[str, Any]) -> bool:
    if (seen["size"], seen["mtime_ns"]) == (entry.size, entry.mtime_ns):
        return False
    return _sha256(entry.path) != str(seen["sha256"])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except FileNotFoundError as exc:
        raise NotFound("file disappeared before reading", where=str(path)) from exc
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(
            f"not a readable Parquet file ({str(exc).splitlines()[0][:120]})",
            where=str(path),
            fix="re-export the file; a truncated upload is the usual cause",
        ) from exc
