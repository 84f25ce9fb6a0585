"""A Unity Catalog lakehouse for the replay server: DuckWarehouse that also takes writes.

`UcLakehouse(project_dir, warehouse_id, volumes=DIR, secrets={(scope, key): value})` is a
`DatabricksReplay` handler serving, over a local project opened writable (its Delta tables are
the "managed tables", its metastore the catalog):

- the Files API: `PUT /api/2.0/fs/files/Volumes/...` (raw bytes, `overwrite=false` answers 409
  when the file exists) and `DELETE` into the folder `volumes`; directories: `PUT` (mkdir -p
  inside an existing volume) and `GET` (one page of entries, `last_modified` from the file's
  modification time, so a test ages a staged file with `os.utime`);
- Unity Catalog REST: `tables/{name}/exists`, `GET tables/{name}` (with columns, masks and
  storage location), `PATCH tables/{name}` (owner), plus DuckWarehouse's listings;
- secret scopes: `GET /api/2.0/secrets/get` (value base64, as the API returns it);
- the statements `UnityCatalogTableStore` and `DatabricksCatalog` send, answered from DuckDB
  and written with delta-rs: CREATE SCHEMA/VOLUME/TABLE [IF NOT EXISTS | OR REPLACE ... AS],
  INSERT INTO [(cols)] [REPLACE WHERE] / INSERT OVERWRITE ... SELECT, DELETE, MERGE INTO
  (keys from the ON clause), ALTER TABLE ADD COLUMNS / SET TBLPROPERTIES / [ALTER COLUMN] SET
  TAGS / SET MASK / COMMENT, COMMENT ON TABLE, ANALYZE ... COMPUTE DELTA STATISTICS, OPTIMIZE
  [ZORDER BY], VACUUM RETAIN n HOURS, DESCRIBE HISTORY ... LIMIT 1, DESCRIBE DETAIL. A query
  with `read_files('/Volumes/...', format => 'parquet')` runs on its own DuckDB connection with
  `read_files` translated to `read_parquet` of the local file (here only; the product sends
  Databricks SQL unchanged); other queries run on the project's engine (column masks apply).

It is an emulator for tests: it checks the statements' shapes it relies on (a REPLACE WHERE of
equalities, a MERGE ON equal keys) and answers FAILED for anything else, as a warehouse does
for bad SQL. Tables read inside a `read_files` query are read unmasked (a lookup of silver).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlglot
from sqlglot import exp

from lakecrew.adapters.local.schema_check import conform_filling
from lakecrew.core.errors import UsageError
from lakecrew.testing.databricks_replay import Answer, Request, error_body
from lakecrew.testing.duck_warehouse import DuckWarehouse, _answer, uc_table

_I = re.IGNORECASE | re.DOTALL
_NAME = r"(?P<name>(?:`(?:[^`]|``)+`|[\w]+)(?:\.(?:`(?:[^`]|``)+`|[\w]+)){0,2})"
_COL = r"(?P<col>`(?:[^`]|``)+`|\w+)"
_COMMANDS: list[tuple[str, re.Pattern[str]]] = [
    ("schema", re.compile(r"^\s*CREATE\s+SCHEMA\s+IF\s+NOT\s+EXISTS\s+" + _NAME + r"\s*$", _I)),
    ("volume", re.compile(r"^\s*CREATE\s+VOLUME\s+IF\s+NOT\s+EXISTS\s+" + _NAME + r"\s*$", _I)),
    ("history", re.compile(r"^\s*DESCRIBE\s+HISTORY\s+" + _NAME + r"\s+LIMIT\s+1\s*$", _I)),
    ("detail", re.compile(r"^\s*DESCRIBE\s+DETAIL\s+" + _NAME + r"\s*$", _I)),
    ("optimize", re.compile(
        r"^\s*OPTIMIZE\s+" + _NAME + r"(?:\s+ZORDER\s+BY\s+\((?P<cols>[^)]*)\))?\s*$", _I)),
    ("vacuum", re.compile(
        r"^\s*VACUUM\s+" + _NAME + r"\s+RETAIN\s+(?P<hours>\d+)\s+HOURS\s*$", _I)),
    ("analyze", re.compile(
        r"^\s*ANALYZE\s+TABLE\s+" + _NAME + r"\s+COMPUTE\s+DELTA\s+STATISTICS\s*$", _I)),
    ("comment", re.compile(
        r"^\s*COMMENT\s+ON\s+TABLE\s+" + _NAME + r"\s+IS\s+(?P<body>'.*')\s*$", _I)),
    ("props", re.compile(
        r"^\s*ALTER\s+TABLE\s+" + _NAME + r"\s+SET\s+TBLPROPERTIES\s*\((?P<body>.*)\)\s*$", _I)),
    ("tags", re.compile(
        r"^\s*ALTER\s+TABLE\s+" + _NAME + r"(?:\s+ALTER\s+COLUMN\s+" + _COL
        + r")?\s+(?P<verb>SET|UNSET)\s+TAGS\s*\((?P<body>.*)\)\s*$", _I)),
    ("mask", re.compile(
        r"^\s*ALTER\s+TABLE\s+" + _NAME + r"\s+ALTER\s+COLUMN\s+" + _COL
        + r"\s+(?:SET\s+MASK\s+(?P<fn>\S+)(?:\s+USING\s+COLUMNS\s*\((?P<using>[^)]*)\))?"
        r"|(?P<drop>DROP\s+MASK))\s*$", _I)),
    ("colcomment", re.compile(
        r"^\s*ALTER\s+TABLE\s+" + _NAME + r"\s+ALTER\s+COLUMN\s+" + _COL
        + r"\s+COMMENT\s+(?P<body>'.*')\s*$", _I)),
]  # fmt: skip


def _ident_parts(text: str) -> list[str]:
    return [a.replace("``", "`") or b for a, b in re.findall(r"`((?:[^`]|``)+)`|(\w+)", text)]


def _full(text: str) -> str:
    return ".".join(_ident_parts(text))


def _strings(text: str) -> list[str]:
    """The string literals of a list, unescaped as `sql_string` escapes them."""
    return [re.sub(r"\\(.)", r"\1", s) for s in re.findall(r"'((?:[^'\\]|\\.)*)'", text)]


def _failed(what: str) -> UsageError:
    return UsageError(what, where="uc_lakehouse emulator")


class UcLakehouse(DuckWarehouse):
    """A writable DuckWarehouse with the Files API, UC table REST and secret scopes."""

    def __init__(
        self,
        project_dir: Path,
        warehouse_id: str,
        *,
        volumes: Path,
        secrets: dict[tuple[str, str], str] | None = None,
        name: str = "pipelines",
    ) -> None:
        super().__init__(project_dir, warehouse_id, name=name, writable=True)
        self.volumes = Path(volumes)
        self.secrets = dict(secrets or {})
        self.statements: list[str] = []  # every statement seen, in order (tests read them)

    # ------------------------------------------------------------ REST

    def __call__(self, req: Request) -> Answer | None:
        files = "/api/2.0/fs/files/Volumes/"
        if req.path.startswith(files):
            return self._file(req, self.volumes / req.path[len(files) :])
        dirs = "/api/2.0/fs/directories/Volumes/"
        if req.path.startswith(dirs):
            return self._directory(req, req.path[len(dirs) :].rstrip("/"))
        if req.method == "GET" and req.path == "/api/2.0/secrets/get":
            key = (req.query.get("scope", [""])[0], req.query.get("key", [""])[0])
            if key not in self.secrets:
                msg = f"secret {key[1]} does not exist in scope {key[0]}"
                return _answer(404, error_body(404, "RESOURCE_DOES_NOT_EXIST", msg))
            value = base64.b64encode(self.secrets[key].encode()).decode()
            return _answer(200, {"key": key[1], "value": value})
        tables = "/api/2.1/unity-catalog/tables/"
        if req.path.startswith(tables) and req.path.count(".") >= 2:
            return self._worker.submit(self._table_rest, req, req.path[len(tables) :]).result()
        return super().__call__(req)

    def _file(self, req: Request, path: Path) -> Answer:
        if req.method == "PUT":
            overwrite = req.query.get("overwrite", ["true"])[0].lower() != "false"
            if path.exists() and not overwrite:
                return _answer(409, error_body(409, "ALREADY_EXISTS", "the file exists"))
            if not path.parent.is_dir():
                msg = f"the volume of {req.path} does not exist"
                return _answer(404, error_body(404, "NOT_FOUND", msg))
            path.write_bytes(req.data)
            return 204, {}, b"", "application/json"
        if req.method == "DELETE":
            if not path.is_file():
                return _answer(404, error_body(404, "NOT_FOUND", "no such file"))
            path.unlink()
            return 204, {}, b"", "application/json"
        return _answer(405, error_body(405, "METHOD_NOT_ALLOWED", req.method))

    def _directory(self, req: Request, rest: str) -> Answer:
        path = self.volumes / rest
        volume = self.volumes.joinpath(*rest.split("/")[:3])
        if req.method == "PUT":
            if not volume.is_dir():
                return _answer(404, error_body(404, "NOT_FOUND", "the volume does not exist"))
            path.mkdir(parents=True, exist_ok=True)
            return 204, {}, b"", "application/json"
        if req.method != "GET":
            return _answer(405, error_body(405, "METHOD_NOT_ALLOWED", req.method))
        if not path.is_dir():
            return _answer(404, error_body(404, "NOT_FOUND", "no such directory"))
        contents = []
        for child in sorted(path.iterdir()):
            entry: dict[str, Any] = {
                "path": f"/Volumes/{rest}/{child.name}",
                "name": child.name,
                "is_directory": child.is_dir(),
                "last_modified": int(child.stat().st_mtime * 1000),
            }
            if child.is_file():
                entry["file_size"] = child.stat().st_size
            contents.append(entry)
        return _answer(200, {"contents": contents})

    def _table_rest(self, req: Request, rest: str) -> Answer:
        ctx = self._context
        full, _, tail = rest.partition("/")
        held = ctx.metastore.has_table(full)
        if req.method == "GET" and tail == "exists":
            return _answer(200, {"table_exists": held})
        if not held:
            msg = f"Table '{full}' does not exist."
            return _answer(404, error_body(404, "TABLE_DOES_NOT_EXIST", msg))
        if req.method == "PATCH":
            ctx.metastore.update_table(full, owner=(req.body or {}).get("owner"))
        info = ctx.metastore.get_table(full)
        return _answer(200, {**uc_table(info), "storage_location": info.storage_location})

    # ------------------------------------------------------------ statements

    def _fetch(self, sql: str, params: dict[str, Any] | None) -> pa.Table:
        self.statements.append(sql)
        for kind, pattern in _COMMANDS:
            m = pattern.match(sql)
            if m:
                return self._command(kind, m)
        if "read_files" not in sql.lower() and re.match(r"^\s*(SELECT|WITH|SHOW)\b", sql, _I):
            return super()._fetch(sql, params)
        try:
            tree = sqlglot.parse_one(sql, read="databricks")
        except sqlglot.errors.ParseError as exc:
            raise _failed(f"[PARSE_SYNTAX_ERROR] {exc}") from None
        if isinstance(tree, exp.Query):
            return self._select(tree)
        if isinstance(tree, exp.Create):
            return self._create(tree)
        if isinstance(tree, exp.Insert):
            return self._insert(tree)
        if isinstance(tree, exp.Delete):
            full = self._table_name(tree.this)
            where = _equalities(tree.args.get("where"))
            self._tables.replace(full, self._schema(full).empty_table(), where=where or None)
            return pa.table({"num_affected_rows": [0]})
        if isinstance(tree, exp.Merge):
            return self._merge(tree)
        if isinstance(tree, exp.Alter):
            return self._add_columns(tree)
        raise _failed(f"[UNSUPPORTED] the emulator does not answer: {sql[:80]}")

    @property
    def _tables(self) -> Any:
        from lakecrew.adapters.local.table_store import DeltaTableStore

        return DeltaTableStore(self._context.store)

    def _schema(self, full: str) -> pa.Schema:
        if not self._context.store.exists(full):
            raise _failed(f"[TABLE_OR_VIEW_NOT_FOUND] {full}")
        return self._context.store.schema(full)

    def _register(self, full: str) -> None:
        from lakecrew.adapters.local.sql_engine import register

        register(self._context.store, self._context.metastore, full, owner="lakecrew")

    def _table_name(self, node: exp.Expr) -> str:
        table = node.this if isinstance(node, exp.Schema) else node
        assert isinstance(table, exp.Table)
        return ".".join(p for p in (table.catalog, table.db, table.name) if p)

    def _command(self, kind: str, m: re.Match[str]) -> pa.Table:
        ctx, name = self._context, _full(m.group("name"))
        done = pa.table({"result": ["OK"]})
        if kind == "schema":
            return done
        if kind == "volume":
            (self.volumes / name.replace(".", "/")).mkdir(parents=True, exist_ok=True)
            return done
        table = ctx.store.table(name) if ctx.store.exists(name) else None
        if table is None:
            raise _failed(f"[TABLE_OR_VIEW_NOT_FOUND] {name}")
        if kind == "history":
            return pa.table({"version": [ctx.store.version(name)]})
        if kind == "detail":
            parts = list(table.metadata().partition_columns)
            return pa.table({"name": [name], "partitionColumns": [parts]})
        if kind == "optimize":
            cols = _ident_parts(m.group("cols") or "")
            metrics = table.optimize.z_order(cols) if cols else table.optimize.compact()
            picked = {k: int(metrics.get(k, 0)) for k in ("numFilesAdded", "numFilesRemoved")}
            return pa.table({"path": [str(ctx.store.path(name))], "metrics": [picked]})
        if kind == "vacuum":
            table.vacuum(
                retention_hours=int(m.group("hours")),
                dry_run=False,
                enforce_retention_duration=False,
            )
            return pa.table({"path": [str(ctx.store.path(name))]})
        if kind == "analyze":
            ctx.store.protect(name)
            return done
        return self._metadata(kind, name, m)

    def _metadata(self, kind: str, name: str, m: re.Match[str]) -> pa.Table:
        ms = self._context.metastore
        body = m.groupdict().get("body") or ""
        col = _full(m.group("col")) if m.groupdict().get("col") else None
        if kind == "comment":
            ms.update_table(name, comment=_strings(body)[0])
        elif kind == "props":
            values = _strings(body)
            ms.update_table(name, properties=dict(zip(values[::2], values[1::2], strict=True)))
        elif kind == "tags":
            values = _strings(body)
            if m.group("verb").upper() == "SET":
                ms.set_tags(name, dict(zip(values[::2], values[1::2], strict=True)), column=col)
            else:
                info = ms.get_table(name)
                column = info.column(col) if col else None
                held = dict(column.tags if column is not None else info.tags)
                kept = {k: v for k, v in held.items() if k not in values}
                ms.set_tags(name, kept, column=col, merge=False)
        elif kind == "mask":
            assert col is not None
            if m.group("drop"):
                ms.set_column(name, col, clear_mask=True)
            else:
                using = tuple(_ident_parts(m.group("using") or ""))
                ms.set_column(name, col, mask=_full(m.group("fn")), mask_using=using)
        elif kind == "colcomment":
            assert col is not None
            ms.set_column(name, col, comment=_strings(body)[0])
        return pa.table({"result": ["OK"]})

    def _select(self, tree: exp.Expr) -> pa.Table:
        """A query with read_files on its own DuckDB: staged files → read_parquet, tables →
        their Delta data (unmasked)."""
        con = duckdb.connect(config={"autoinstall_known_extensions": False})
        try:
            con.execute("SET TimeZone = 'UTC'")
            for i, table in enumerate(list(tree.find_all(exp.Table))):
                fn = table.this
                if isinstance(fn, exp.Anonymous) and str(fn.this).lower() == "read_files":
                    path = str(fn.expressions[0].this)
                    local = self.volumes / path.removeprefix("/Volumes/")
                    if not local.is_file():
                        raise _failed(f"[PATH_NOT_FOUND] {path}")
                    call = exp.Anonymous(
                        this="read_parquet", expressions=[exp.Literal.string(str(local))]
                    )
                    table.set("this", call)
                    continue
                full = self._table_name(table)
                self._schema(full)
                con.register(f"t_{i}", self._context.store.to_arrow(full))
                table.replace(exp.Table(this=exp.to_identifier(f"t_{i}"),
                                        alias=table.args.get("alias")))  # fmt: skip
            return con.execute(tree.sql("duckdb")).to_arrow_table()
        except duckdb.Error as exc:
            raise _failed(f"[SQL] {exc}") from None
        finally:
            con.close()

    def _create(self, tree: exp.Create) -> pa.Table:
        full = self._table_name(tree.this)
        store = self._context.store
        props = tree.args.get("properties")
        parts = [
            _full(c.sql("databricks"))
            for p in (props.expressions if props else [])
            if isinstance(p, exp.PartitionedByProperty)
            for c in (p.this.expressions if isinstance(p.this, exp.Schema) else [p.this])
        ]
        if tree.expression is not None:  # CREATE OR REPLACE TABLE ... AS SELECT
            data = self._select(tree.expression)
            if store.exists(full):
                store.overwrite(full, data, overwrite_schema=True)
            else:
                store.create_table(full, data.schema, partition_by=parts)
                store.append(full, data)
            self._register(full)
            return pa.table({"num_affected_rows": [data.num_rows]})
        if store.exists(full):
            if not tree.args.get("exists"):
                raise _failed(f"[TABLE_OR_VIEW_ALREADY_EXISTS] {full}")
            return pa.table({"result": ["OK"]})
        assert isinstance(tree.this, exp.Schema)
        schema = _arrow_schema(tree.this.expressions)
        settings = {
            str(p.this.this): str(p.args["value"].this)
            for p in (props.expressions if props else [])
            if type(p) is exp.Property
        }
        _check_columns(full, [], schema.names, settings)
        self._tables.create(full, schema, partition_by=parts)
        self._register(full)
        if settings:
            self._context.metastore.update_table(full, properties=settings)
        return pa.table({"result": ["OK"]})

    def _conform(self, full: str, data: pa.Table) -> pa.Table:
        schema = self._schema(full)
        extra = [c for c in data.column_names if c not in schema.names]
        if extra:
            raise _failed(f"[UNRESOLVED_COLUMN] `{extra[0]}` is not a column of {full}")
        return conform_filling(data, schema)

    def _insert(self, tree: exp.Insert) -> pa.Table:
        full = self._table_name(tree.this)
        data = self._select(tree.expression)
        if isinstance(tree.this, exp.Schema):  # INSERT INTO t (cols): by position
            names = [_full(c.sql("databricks")) for c in tree.this.expressions]
            data = data.rename_columns(names)
        else:  # INSERT INTO t query: every column of the table, by position
            held = self._schema(full).names
            if len(held) != data.num_columns:
                raise _failed(
                    f"[INSERT_COLUMN_ARITY_MISMATCH] {full} has {len(held)} columns, the query "
                    f"{data.num_columns}"
                )
            data = data.rename_columns(held)
        data = self._conform(full, data)
        if tree.args.get("overwrite"):
            self._tables.replace(full, data)
        elif tree.args.get("where") is not None:
            where = _equalities(tree.args["where"])
            self._tables.replace(full, data, where=where)
        else:
            self._tables.append(full, data)
        return pa.table(
            {"num_affected_rows": [data.num_rows], "num_inserted_rows": [data.num_rows]}
        )

    def _merge(self, tree: exp.Merge) -> pa.Table:
        full = self._table_name(tree.this)
        using = tree.args["using"]
        source = using.this if isinstance(using, exp.Subquery) else exp.select("*").from_(using)
        keys = [k for k, _ in _key_pairs(tree.args["on"])]
        data = self._conform_subset(full, self._select(source))
        self._tables.merge(full, data, keys)
        return pa.table({"num_affected_rows": [data.num_rows]})

    def _conform_subset(self, full: str, data: pa.Table) -> pa.Table:
        schema = self._schema(full)
        for name in data.column_names:
            if name not in schema.names:
                raise _failed(f"[UNRESOLVED_COLUMN] `{name}` is not a column of {full}")
        return data.cast(pa.schema([schema.field(n) for n in data.column_names]))

    def _add_columns(self, tree: exp.Alter) -> pa.Table:
        full = self._table_name(tree.this)
        actions = tree.args.get("actions") or []
        flat = [d for a in actions for d in (a.expressions if isinstance(a, exp.Schema) else [a])]
        defs = [d for d in flat if isinstance(d, exp.ColumnDef)]
        if not defs:
            raise _failed(f"[UNSUPPORTED] ALTER TABLE form: {tree.sql('databricks')[:80]}")
        new = _arrow_schema(defs)
        props = self._context.metastore.get_table(full).properties
        _check_columns(full, self._schema(full).names, new.names, props)
        merged = pa.unify_schemas([self._schema(full), new])
        self._context.store.append(full, merged.empty_table(), merge_schema=True)
        self._register(full)
        return pa.table({"result": ["OK"]})


def _arrow_schema(defs: Sequence[exp.Expr]) -> pa.Schema:
    """Arrow types of Databricks column definitions, through DuckDB's own type parser."""
    cols = ", ".join(
        f'"{d.name}" {d.args["kind"].sql("duckdb")}' for d in defs if isinstance(d, exp.ColumnDef)
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(f"CREATE TABLE t ({cols})")
        return con.execute("SELECT * FROM t").to_arrow_table().schema
    finally:
        con.close()


def _check_columns(
    full: str, held: Sequence[str], new: Sequence[str], properties: Mapping[str, str]
) -> None:
    """As Delta on Databricks: names are case-insensitive; spaces and ``,;{}()=`` need
    column mapping by name."""
    seen = {n.lower() for n in held}
    for name in new:
        if name.lower() in seen:
            raise _failed(f"[COLUMN_ALREADY_EXISTS] The column `{name}` already exists in {full}")
        seen.add(name.lower())
    mapped = properties.get("delta.columnMapping.mode") == "name"
    if not mapped and any(set(n) & set(" ,;{}()\n\t=") for n in new):
        raise _failed(
            "[DELTA_INVALID_CHARACTERS_IN_COLUMN_NAMES] Found invalid character(s) among "
            "' ,;{}()\\n\\t=' in the column names of your schema; enable column mapping"
        )


def _key_pairs(on: exp.Expr) -> list[tuple[str, str]]:
    """(target, source) columns of an ON clause of equalities joined by AND."""
    pairs = []
    for eq in _conjuncts(on):
        if not (isinstance(eq, exp.EQ) and isinstance(eq.left, exp.Column)
                and isinstance(eq.right, exp.Column)):  # fmt: skip
            raise _failed(f"[UNSUPPORTED] MERGE ON must be key equalities: {on.sql()}")
        pairs.append((eq.left.name, eq.right.name))
    return pairs


def _equalities(where: exp.Expr | None) -> dict[str, str]:
    """column = 'value' terms of a WHERE joined by AND."""
    if where is None:
        return {}
    cond = where.this if isinstance(where, exp.Where) else where
    out = {}
    for eq in _conjuncts(cond):
        if not (isinstance(eq, exp.EQ) and isinstance(eq.left, exp.Column)
                and isinstance(eq.right, exp.Literal) and eq.right.is_string):  # fmt: skip
            raise _failed(f"[UNSUPPORTED] only column = 'text' predicates: {cond.sql()}")
        out[eq.left.name] = str(eq.right.this)
    return out


def _conjuncts(cond: exp.Expr) -> list[exp.Expr]:
    if isinstance(cond, exp.And):
        return _conjuncts(cond.left) + _conjuncts(cond.right)
    if isinstance(cond, exp.Paren):
        return _conjuncts(cond.this)
    return [cond]


__all__ = ["UcLakehouse"]
