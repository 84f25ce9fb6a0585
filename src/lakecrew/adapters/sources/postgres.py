"""PostgreSQL source: incremental extraction by a watermark column, with reconnect on drop.

Each batch is ``SELECT ... WHERE (wm, id) > (last_wm, last_id) ORDER BY wm, id LIMIT n``: the
id column breaks ties between rows sharing a watermark, so no row is skipped or read twice at a
batch boundary. Values are extracted in their PostgreSQL text form (session in UTC, ISO dates),
as bronze keeps raw data. Rows whose watermark or id is NULL are never extracted (stated in
``notes``). A dropped connection is reopened and the interrupted batch query re-run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
from psycopg import sql

from lakecrew.adapters.sources.checkpoint import JsonCheckpoint, batch_id, with_metadata
from lakecrew.core.errors import ConfigError, NotFound, Transient, UsageError
from lakecrew.ports.source import Batch, CheckpointToken

APPLICATION_NAME = "lakecrew-source"


@dataclass
class PostgresSource:
    """Incremental extraction of one table. ``conninfo`` may hold a password: never logged."""

    name: str
    conninfo: str
    table: str
    watermark_column: str
    id_column: str
    checkpoint_path: Path
    columns: Sequence[str] | None = None
    batch_rows: int = 1000
    max_reconnects: int = 5
    connect_timeout: int = 10
    sleep: Callable[[float], None] = time.sleep
    reconnects: int = field(default=0, init=False)
    """How many times a dropped connection was reopened (for run reports and tests)."""

    def __post_init__(self) -> None:
        if self.batch_rows < 1:
            raise UsageError("batch_rows must be at least 1", where=self.name)
        self._conn: psycopg.Connection[Any] | None = None
        self._store = JsonCheckpoint(self.checkpoint_path)
        self._types: dict[str, str] | None = None

    @property
    def uri(self) -> str:
        """``postgresql://host:port/db/table`` without user or password."""
        info = psycopg.conninfo.conninfo_to_dict(self.conninfo)
        host, port, db = info.get("host", "localhost"), info.get("port", 5432), info.get("dbname")
        return f"postgresql://{host}:{port}/{db or ''}/{self.table}"

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self.conninfo,
                autocommit=True,
                connect_timeout=self.connect_timeout,
                application_name=APPLICATION_NAME,
                options="-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601",
            )
        return self._conn

    def close(self) -> None:
        """Close the connection (the source reconnects on next use)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _with_reconnect(self, query: sql.SQL | sql.Composed, params: Sequence[Any]) -> list[Any]:
        attempt = 0
        while True:
            try:
                conn = self._connect()
                with conn.cursor() as cur:
                    cur.execute(query, params)
                    return cur.fetchall()
            except psycopg.OperationalError as exc:
                self.close()
                attempt += 1
                if attempt > self.max_reconnects:
                    raise Transient(
                        f"PostgreSQL connection lost; {self.max_reconnects} reconnects failed "
                        f"({type(exc).__name__})",
                        where=self.uri,
                        fix="check the server; a re-run resumes from the last committed batch",
                    ) from None
                self.reconnects += 1
                self.sleep(min(30.0, 0.5 * 2 ** (attempt - 1)))
            except psycopg.errors.UndefinedTable:
                raise NotFound(
                    "table does not exist", where=self.uri, fix="check the table name"
                ) from None

    def _column_types(self) -> dict[str, str]:
        if self._types is None:
            rows = self._with_reconnect(
                sql.SQL(
                    "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
                    "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
                    "ORDER BY attnum"
                ),
                [self.table],
            )
            if not rows:
                raise NotFound("table does not exist", where=self.uri, fix="check the table name")
            self._types = {str(name): str(kind) for name, kind in rows}
            wanted = [*(self.columns or []), self.watermark_column, self.id_column]
            missing = [c for c in wanted if c not in self._types]
            if missing:
                raise ConfigError(
                    f"column {missing[0]!r} not in the table",
                    where=self.uri,
                    fix=f"choose from: {', '.join(self._types)}",
                )
        return self._types

    def _query(self, position: dict[str, str] | None) -> tuple[sql.Composed, list[Any]]:
        types = self._column_types()
        cols = list(self.columns or types)
        wm, key = sql.Identifier(self.watermark_column), sql.Identifier(self.id_column)
        select = sql.SQL(", ").join(
            sql.SQL("{}::text AS {}").format(sql.Identifier(c), sql.Identifier(c)) for c in cols
        )
        target = sql.Identifier(*self.table.split("."))
        where = sql.SQL("{} IS NOT NULL AND {} IS NOT NULL").format(wm, key)
        params: list[Any] = []
        if position is not None:
            where = sql.SQL("{} AND ({}, {}) > (%s::{}, %s::{})").format(
                where,
                wm,
                key,
                sql.SQL(types[self.watermark_column]),
                sql.SQL(types[self.id_column]),
            )
            params = [position["watermark"], position["id"]]
        query = sql.SQL(
            "SELECT {select}, {wm}::text, {key}::text FROM {target} WHERE {where} "
            "ORDER BY {wm}, {key} LIMIT %s"
        ).format(select=select, wm=wm, key=key, target=target, where=where)
        return query, [*params, self.batch_rows]

    def discover(self) -> Sequence[str]:
        """The table, with the position extraction resumes from."""
        pos = self._store.load().get("position")
        return [f"{self.table} after {pos['watermark']}" if pos else f"{self.table} (full)"]

    def read(self) -> Iterator[Batch]:
        """Batches of ``batch_rows`` rows past the committed watermark, in watermark order."""
        position: dict[str, str] | None = self._store.load().get("position")
        while True:
            query, params = self._query(position)
            rows = self._with_reconnect(query, params)
            if not rows:
                return
            batch = self._batch(rows, position)
            yield batch
            position = json.loads(batch.checkpoint.state)["position"]

    def _batch(self, rows: list[Any], position: dict[str, str] | None) -> Batch:
        cols = list(self.columns or self._column_types())
        start = (position or {}).get("watermark"), (position or {}).get("id")
        bid = batch_id(self.name, self.table, *start)
        data = {c: pa.array([r[i] for r in rows], pa.string()) for i, c in enumerate(cols)}
        table = with_metadata(
            data, uri=self.uri, rows=list(range(1, len(rows) + 1)), bid=bid, where=self.uri
        )
        last = {"watermark": rows[-1][-2], "id": rows[-1][-1]}
        token = CheckpointToken(self.name, bid, json.dumps({"position": last}))
        notes = ("rows with a NULL watermark or id are not extracted",)
        return Batch(bid, self.name, table, token, notes=notes)

    def commit(self, token: CheckpointToken) -> None:
        """Advance the committed watermark to the end of the token's batch."""
        if token.source != self.name:
            raise UsageError(f"token of source {token.source!r} given to {self.name!r}")
        state = self._store.load()
        state["position"] = json.loads(token.state)["position"]
        state["batch_id"] = token.batch_id
        self._store.save(state)
