"""Delta deletion vectors on the local store: written here, read by delta-rs and by us.

delta-rs 1.6.6 reads deletion vectors (its ``scan()``, ``deletion_vectors()``, MERGE, DELETE,
OPTIMIZE and overwrite honour them) but has no Python API to write one (``AddAction`` has no
``deletionVector``), and its Arrow datasets refuse tables that may hold them. An upsert that
marks the replaced rows deleted instead of copying every other row of their files makes an
incremental batch cost what it changes, not what its keys' files hold (issue 12). So this
module writes them to the Delta protocol (PROTOCOL.md, "Deletion Vectors"):

- a bitmap is a ``RoaringBitmapArray``: magic 1681511377 (int32 LE), the number of 32-bit
  bitmaps (int64 LE), then per bitmap its key (int32 LE) and its portable Roaring serialisation
  (pyroaring, the CRoaring bindings: the format is CRoaring's own);
- one ``deletion_vector_<uuid>.bin`` file per commit: version byte 1, then per bitmap its size
  (int32 BE), the bitmap and its CRC-32 (int32 BE); descriptors are storage type ``u`` (the
  uuid, Z85-encoded), ``offset`` the position of the size field;
- the commit itself: ``remove`` of each touched file with its old descriptor, ``add`` of the same
  file with the new one (statistics marked ``tightBounds: false``), the new files' ``add``; on
  the first such commit the protocol goes to reader 3 / writer 7 with the ``deletionVectors``
  feature (plus the legacy features writer 2 implied) and ``delta.enableDeletionVectors``.
  It is put-if-absent (a hard link of a written file: a lost race never overwrites a commit).

Reading: ``LiveFiles`` replays the log (the last classic checkpoint, then the JSON commits) into
each live file's ``add`` action with its descriptor, advancing from the version it last saw;
``positions`` decodes one descriptor (storage types ``u``, ``p`` and ``i``). Z85 is written here:
Python's ``base64.z85encode`` arrives only in 3.13.
"""

from __future__ import annotations

import json
import os
import struct
import time
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
from pyroaring import BitMap

from lakecrew.core.errors import DataError

MAGIC = 1681511377
FEATURE = "deletionVectors"
ENABLE = "delta.enableDeletionVectors"
_LEGACY_WRITER = {2: ("appendOnly", "invariants")}  # what writer version 2 implies
_Z85 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#"
_Z85_VALUE = {c: i for i, c in enumerate(_Z85)}


def z85_encode(data: bytes) -> str:
    """Z85 (ZeroMQ RFC 32) of bytes whose length is a multiple of 4."""
    if len(data) % 4:
        raise ValueError("Z85 encodes whole 4-byte words")
    out = []
    for (value,) in struct.iter_unpack(">I", data):
        chars, word = [], value
        for _ in range(5):
            word, rest = divmod(word, 85)
            chars.append(_Z85[rest])
        out.append("".join(reversed(chars)))
    return "".join(out)


def z85_decode(text: str) -> bytes:
    if len(text) % 5:
        raise ValueError("Z85 text comes in 5-character groups")
    out = bytearray()
    for i in range(0, len(text), 5):
        word = 0
        for c in text[i : i + 5]:
            word = word * 85 + _Z85_VALUE[c]
        out += struct.pack(">I", word)
    return bytes(out)


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``values`` sorted without repeats (as they are when already strictly increasing)."""
    if len(values) < 2 or bool((values[1:] > values[:-1]).all()):
        return values
    return np.unique(values)


def merged(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The union of two sorted, repeat-free position arrays (a linear merge: timsort finds the
    two runs), sorted and repeat-free."""
    out = np.concatenate([np.asarray(old, np.int64), np.asarray(new, np.int64)])
    out.sort(kind="stable")
    if len(out) < 2:
        return out
    keep = np.empty(len(out), np.bool_)
    keep[0] = True
    np.not_equal(out[1:], out[:-1], out=keep[1:])
    return out[keep]


def serialize(positions: np.ndarray) -> bytes:
    """The RoaringBitmapArray of row positions (any order, repeats allowed)."""
    values = sorted_unique(np.asarray(positions, np.uint64))
    highs = values >> np.uint64(32)
    keys = np.unique(highs)
    out = [struct.pack("<IQ", MAGIC, len(keys))]
    for key in keys.tolist():
        low = (values[highs == key] & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        out.append(struct.pack("<I", key))
        out.append(BitMap(low).serialize())
    return b"".join(out)


def deserialize(payload: bytes) -> np.ndarray:
    """Row positions (sorted uint64) of a RoaringBitmapArray."""
    magic, count = struct.unpack_from("<IQ", payload, 0)
    if magic != MAGIC:
        raise ValueError(f"not a deletion vector (magic {magic})")
    at, parts = 12, []
    for _ in range(count):
        (key,) = struct.unpack_from("<I", payload, at)
        bitmap = BitMap.deserialize(payload[at + 4 :])
        at += 4 + len(bitmap.serialize())
        low = np.frombuffer(bitmap.to_array(), np.uint32).astype(np.uint64)
        parts.append(low | (np.uint64(key) << np.uint64(32)))
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def dv_path(location: Path, descriptor: Mapping[str, Any]) -> Path:
    """The file of a ``u`` (table-relative, optional random prefix) or ``p`` descriptor."""
    kind, text = descriptor["storageType"], str(descriptor["pathOrInlineDv"])
    if kind == "p":
        return Path(unquote(text.removeprefix("file://")))
    prefix, encoded = text[:-20], text[-20:]
    name = f"deletion_vector_{uuid.UUID(bytes=z85_decode(encoded))}.bin"
    return location / prefix / name if prefix else location / name


def positions(location: Path, descriptor: Mapping[str, Any]) -> np.ndarray:
    """The deleted row positions one descriptor names."""
    if descriptor["storageType"] == "i":
        size = int(descriptor["sizeInBytes"])
        return deserialize(z85_decode(str(descriptor["pathOrInlineDv"]))[:size])
    with open(dv_path(location, descriptor), "rb") as fh:
        fh.seek(int(descriptor.get("offset") or 1))
        (size,) = struct.unpack(">I", fh.read(4))
        payload = fh.read(size)
        (crc,) = struct.unpack(">I", fh.read(4))
    if zlib.crc32(payload) != crc:
        raise ValueError(f"deletion vector checksum mismatch in {dv_path(location, descriptor)}")
    return deserialize(payload)


def write_vectors(location: Path, deleted: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """One DV file holding each bitmap; its descriptors, in order. Not yet referenced by any
    commit: a crash leaves an unreferenced file (maintenance removes it, see `stale_vectors`:
    delta-rs's VACUUM does not know vector files)."""
    ident = uuid.uuid4()
    encoded = z85_encode(ident.bytes)
    blob, descriptors = bytearray(b"\x01"), []
    for rows in deleted:
        payload = serialize(rows)
        descriptors.append(
            {
                "storageType": "u",
                "pathOrInlineDv": encoded,
                "offset": len(blob),
                "sizeInBytes": len(payload),
                "cardinality": len(sorted_unique(np.asarray(rows))),
            }
        )
        blob += struct.pack(">I", len(payload)) + payload + struct.pack(">I", zlib.crc32(payload))
    target = location / f"deletion_vector_{ident}.bin"
    with open(target, "xb") as fh:
        fh.write(blob)
        fh.flush()
        os.fsync(fh.fileno())
    return descriptors


@dataclass
class LiveFiles:
    """The live ``add`` actions of one table version, by path, with protocol and metadata."""

    location: Path
    version: int = -1
    adds: dict[str, dict[str, Any]] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def at(cls, location: Path, version: int, known: LiveFiles | None = None) -> LiveFiles:
        """The state at ``version``: advanced from ``known`` when it is older, else replayed
        from the newest classic checkpoint at or before ``version`` (or the first commit)."""
        if known is not None and known.location == location and known.version <= version:
            state = cls(location, known.version, dict(known.adds), known.protocol, known.metadata)
            try:
                state._advance(version)
                return state
            except FileNotFoundError:
                pass  # commits cleaned up since (a checkpoint covers them): replay afresh
        state = cls(location)
        state._from_checkpoint(version)
        try:
            state._advance(version)
        except FileNotFoundError as exc:
            raise DataError(
                f"cannot replay the Delta log to version {version}: {Path(str(exc.filename)).name}"
                " is missing and no single-file checkpoint covers it",
                where=str(location),
                fix="read this version with a Delta reader that knows multi-part or V2 "
                "checkpoints, or write a classic checkpoint (delta-rs create_checkpoint)",
            ) from exc
        return state

    def deleted(self) -> dict[str, dict[str, Any]]:
        """path → descriptor of each live file carrying a deletion vector."""
        return {p: a["deletionVector"] for p, a in self.adds.items() if a.get("deletionVector")}

    def rows(self) -> int | None:
        """Rows of this version from its log alone: each file's ``numRecords`` less its
        deletion vector's cardinality; None when a file has no row count."""
        total = 0
        for add in self.adds.values():
            stats = add.get("stats")
            records = (
                json.loads(stats).get("numRecords") if isinstance(stats, str) and stats else None
            )
            if records is None:
                return None
            vector = add.get("deletionVector") or {}
            total += int(records) - int(vector.get("cardinality") or 0)
        return total

    def writer_protocol(self) -> dict[str, Any]:
        """The protocol with deletion vectors enabled (the current one when it has them)."""
        proto = self.protocol
        readers = list(proto.get("readerFeatures") or [])
        writers = list(proto.get("writerFeatures") or [])
        if FEATURE in readers and FEATURE in writers:
            return proto
        if int(proto.get("minWriterVersion", 2)) < 7:
            implied = _LEGACY_WRITER.get(int(proto.get("minWriterVersion", 2)), ())
            writers = [*implied, *writers]
        return {
            "minReaderVersion": 3,
            "minWriterVersion": 7,
            "readerFeatures": [*dict.fromkeys([*readers, FEATURE])],
            "writerFeatures": [*dict.fromkeys([*writers, FEATURE])],
        }

    def _from_checkpoint(self, version: int) -> None:
        log = self.location / "_delta_log"
        marks = []
        for name in os.listdir(log):
            head, _, tail = name.partition(".")
            if tail == "checkpoint.parquet" and head.isdigit() and int(head) <= version:
                marks.append(int(head))
        if not marks:
            return
        at = max(marks)
        import pyarrow.parquet as pq  # only here: the CLI starts without it

        table = pq.read_table(log / f"{at:020d}.checkpoint.parquet")
        names = set(table.column_names)
        kinds = [c for c in ("add", "protocol", "metaData") if c in names]
        for row in table.select(kinds).to_pylist():
            if row.get("add"):
                add = _plain(row["add"])
                self.adds[str(add["path"])] = add
            elif row.get("protocol"):
                self.protocol = _plain(row["protocol"])
            elif row.get("metaData"):
                self.metadata = _plain(row["metaData"])
        self.version = at

    def _advance(self, version: int) -> None:
        log = self.location / "_delta_log"
        for v in range(self.version + 1, version + 1):
            removes, adds = [], []
            with open(log / f"{v:020d}.json", encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    action = json.loads(line)
                    if "add" in action:
                        adds.append(action["add"])
                    elif "remove" in action:
                        removes.append(action["remove"]["path"])
                    elif "protocol" in action:
                        self.protocol = action["protocol"]
                    elif "metaData" in action:
                        self.metadata = action["metaData"]
            for path in removes:
                self.adds.pop(str(path), None)
            for add in adds:
                self.adds[str(add["path"])] = add
            self.version = v


_MAPS = frozenset({"partitionValues", "tags", "configuration", "options"})


def _plain(value: Any) -> Any:
    """A checkpoint row as log JSON: maps (key/value pair lists) as dicts, nulls dropped."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if item is None:
            continue
        out[key] = dict(item) if key in _MAPS and isinstance(item, list) else _plain(item)
    return out


def remove_action(add: Mapping[str, Any], now: int) -> dict[str, Any]:
    """The ``remove`` of a live file (with its deletion vector, so the pair matches)."""
    out: dict[str, Any] = {
        "path": add["path"],
        "deletionTimestamp": now,
        "dataChange": True,
        "extendedFileMetadata": True,
        "partitionValues": add.get("partitionValues") or {},
        "size": add["size"],
    }
    if add.get("deletionVector"):
        out["deletionVector"] = add["deletionVector"]
    return out


def with_vector(add: Mapping[str, Any], descriptor: Mapping[str, Any], now: int) -> dict[str, Any]:
    """The same file, re-added with a new deletion vector (its statistics no longer tight)."""
    out = {k: v for k, v in add.items() if k not in ("deletionVector", "stats_parsed")}
    out.update(deletionVector=dict(descriptor), dataChange=True, modificationTime=now)
    stats = add.get("stats")
    if isinstance(stats, str) and stats:
        parsed = json.loads(stats)
        parsed["tightBounds"] = False
        out["stats"] = json.dumps(parsed, separators=(",", ":"))
    return out


def commit(location: Path, version: int, actions: Sequence[Mapping[str, Any]]) -> bool:
    """Put the commit file of ``version`` if absent; False when another commit has it."""
    log = location / "_delta_log"
    scratch = log / f"_commit_{uuid.uuid4()}.json.tmp"
    with open(scratch, "x", encoding="utf-8") as fh:
        fh.write("\n".join(json.dumps(a, separators=(",", ":")) for a in actions) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(scratch, log / f"{version:020d}.json")
    except FileExistsError:
        return False
    finally:
        scratch.unlink(missing_ok=True)
    return True


def stale_vectors(live: LiveFiles, retention_hours: float) -> list[Path]:
    """DV files no live file of ``live`` names, older than the retention: VACUUM (delta-rs)
    does not remove them; younger ones may still serve time travel."""
    named = {dv_path(live.location, d) for d in live.deleted().values() if d["storageType"] != "i"}
    cutoff = time.time() - retention_hours * 3600
    return [
        f
        for f in live.location.glob("deletion_vector_*.bin")
        if f not in named and f.stat().st_mtime <= cutoff
    ]
