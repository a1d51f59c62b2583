"""Append-only Parquet shards: how eval and training runs write results without touching DuckDB.

Why: DuckDB allows one writing process per file, and a process holding the file read-write blocks
even read-only openers (duckdb#17158). So writers only ever create new shard files, one per flush,
under `<root>/shards/<table>/`; `ingest` is the only DuckDB writer and the shards stay the source of
truth the database can always be rebuilt from.

A shard is written to a hidden temporary name in the same folder, fsynced, then `os.replace`d onto
its final name, so a reader (or a glob in `read_parquet`) never sees a half-written file: a writer
killed mid-write leaves only a `.*.tmp-*` file, which every reader here ignores.

File names start with the run id (`<run_id>--<name>.parquet`) so that resuming one run reads only
that run's shards (`read_keys`). Writing a shard with an existing name replaces it; ingest notices
(size/mtime/sha) and re-reads it. When two shards hold the same key, the later one wins (ordered by
mtime, then name), in `read_table` and in ingest alike.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ctxbench.core.atomic import atomic_file, is_temp
from ctxbench.core.errors import CtxbenchError, DataError, did_you_mean
from ctxbench.core.hashing import canonical_json
from ctxbench.core.paths import shards_dir
from ctxbench.store.schema import (
    DERIVED,
    DERIVED_FROM,
    JSON_COLUMNS,
    SCHEMA_META_KEY,
    SCHEMA_VERSION,
    Table,
    derive,
)
from ctxbench.store.schema import table as table_decl

_ARROW_TYPES = {
    "VARCHAR": "string", "INTEGER": "int32", "BIGINT": "int64", "DOUBLE": "float64",
    "BOOLEAN": "bool", "TIMESTAMP": "timestamp[us]",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]")
NO_RUN = "_"  # file prefix for shards whose rows have no single run id
SUFFIX = ".parquet"


def arrow_schema(name: str):
    import pyarrow as pa

    def typ(t: str):
        s = _ARROW_TYPES[t]
        return pa.timestamp("us") if s == "timestamp[us]" else pa.type_for_alias(s)

    return pa.schema([(c, typ(t)) for c, t in table_decl(name).columns.items()])


def safe_prefix(run_id: str | None) -> str:
    """File-name-safe form of a run id (used as the shard prefix)."""
    if run_id is None or run_id == "":
        return NO_RUN
    return _UNSAFE.sub("_", str(run_id))[:120]


# ----------------------------------------------------------------------------- validation

def _norm_value(col: str, typ: str, v, where: str):
    if v is None:
        return None
    if col in JSON_COLUMNS:
        if isinstance(v, str):
            try:
                json.loads(v)
            except ValueError as e:
                raise DataError(f"{where}: column {col!r} must hold JSON text or a dict/list: {e}") from None
            return v
        return canonical_json(v)
    if typ == "TIMESTAMP":
        if isinstance(v, str):
            v = dt.datetime.fromisoformat(v)
        elif isinstance(v, (int, float)):
            v = dt.datetime.fromtimestamp(v, dt.UTC)
        if isinstance(v, dt.datetime) and v.tzinfo is not None:
            v = v.astimezone(dt.UTC).replace(tzinfo=None)
        return v
    return v


def _unknown_error(name: str, decl: Table, unknown: Iterable[str]) -> DataError:
    bad = sorted(unknown)
    return DataError(
        f"table {name!r}: unknown column {bad[0]!r}{did_you_mean(bad[0], decl.columns)}"
        + (f" (also unknown: {', '.join(map(repr, bad[1:]))})" if len(bad) > 1 else "")
        + "; add it to ctxbench/store/schema.py if it is a new column"
    )


def to_arrow(name: str, rows):
    """Rows (list of dicts, a pyarrow Table or a pandas DataFrame) as an Arrow table with exactly the
    declared columns, in order: unknown column -> DataError naming it; missing column -> nulls."""
    import pyarrow as pa
    import pyarrow.compute as pc

    decl = table_decl(name)
    schema = arrow_schema(name)
    where = f"table {name!r}"
    if isinstance(rows, pa.Table):
        given = rows
    elif hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas DataFrame
        given = pa.Table.from_pandas(rows, preserve_index=False)
    else:
        rows = list(rows)
        keys: set[str] = set()
        for r in rows:
            keys.update(r)
        unknown = keys - decl.columns.keys()
        if unknown:
            raise _unknown_error(name, decl, unknown)
        cols = {}
        for c, t in decl.columns.items():
            if c in keys:
                vals = [_norm_value(c, t, r.get(c), f"{where} row {i}") for i, r in enumerate(rows)]
                try:
                    cols[c] = pa.array(vals, type=schema.field(c).type)
                except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError) as e:
                    raise DataError(f"{where}: column {c!r} does not fit type {t}: {e}") from None
            else:
                cols[c] = pa.nulls(len(rows), type=schema.field(c).type)
        return _check(name, decl, pa.table(cols, schema=schema))

    unknown = set(given.column_names) - decl.columns.keys()
    if unknown:
        raise _unknown_error(name, decl, unknown)
    cols = []
    for f in schema:
        if f.name not in given.column_names:
            cols.append(pa.nulls(given.num_rows, type=f.type))
            continue
        col = given.column(f.name)
        if f.name in JSON_COLUMNS and not pa.types.is_string(col.type) and not pa.types.is_null(col.type):
            raise DataError(f"{where}: column {f.name!r} must be JSON text (string), got {col.type}")
        try:
            cols.append(pc.cast(col, f.type) if col.type != f.type else col)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
            raise DataError(f"{where}: column {f.name!r} ({col.type}) does not fit {f.type}: {e}") from None
    return _check(name, decl, pa.Table.from_arrays(cols, schema=schema))


def _check(name: str, decl: Table, t):
    import pyarrow.compute as pc

    for c in (*decl.key, *decl.required):
        nulls = t.column(c).null_count
        if nulls:
            kind = "key" if c in decl.key else "required"
            raise DataError(f"table {name!r}: {kind} column {c!r} is null in {nulls} of {t.num_rows} rows")
    for c, allowed in decl.choices.items():
        vals = set(pc.unique(t.column(c).drop_null()).to_pylist())
        bad = sorted(vals - set(allowed))
        if bad:
            raise DataError(f"table {name!r}: column {c!r} value {bad[0]!r} not allowed"
                            f"{did_you_mean(bad[0], allowed)}")
    return t


# ----------------------------------------------------------------------------- writing

def write_shard(root, table: str, rows, name: str | None = None) -> Path:
    """Write one shard atomically and return its final path.

    rows: list of dicts, a pyarrow Table or a pandas DataFrame, validated against the schema.
    name: the part after the run-id prefix (default: a time-ordered unique name); reusing a name
    replaces that shard. The prefix is the rows' run id when they all share one, else `_`.
    """
    import pyarrow.parquet as pq

    t = to_arrow(table, rows)
    folder = shards_dir(Path(root), table)
    folder.mkdir(parents=True, exist_ok=True)
    run_ids = set(t.column("run_id").unique().to_pylist()) if "run_id" in t.column_names else set()
    prefix = safe_prefix(next(iter(run_ids)) if len(run_ids) == 1 else None)
    if name is None:
        name = f"{time.time_ns():016x}-{os.getpid()}-{secrets.token_hex(3)}"
    if not name or "/" in name or os.sep in name or name.startswith("."):
        raise CtxbenchError(f"shard name {name!r} must be a plain, non-hidden file name")
    final = folder / f"{prefix}--{name.removesuffix(SUFFIX)}{SUFFIX}"
    t = t.replace_schema_metadata({**(t.schema.metadata or {}), SCHEMA_META_KEY: str(SCHEMA_VERSION)})
    with atomic_file(final, "wb") as f:
        pq.write_table(t, f, compression="zstd")
    return final


# ----------------------------------------------------------------------------- reading

def iter_shards(root, table: str, run_id: str | None = None) -> Iterator[Path]:
    """Finished shard files of a table (temporary files ignored), oldest first (mtime, then name).
    With run_id, only the files that may hold that run's rows (its prefix, or the mixed prefix)."""
    table_decl(table)
    folder = shards_dir(Path(root), table)
    if not folder.is_dir():
        return iter(())
    if run_id is None:
        patterns = [f"*{SUFFIX}"]
    else:  # that run's files, plus files mixing several runs
        patterns = sorted({f"{safe_prefix(run_id)}--*{SUFFIX}", f"{NO_RUN}--*{SUFFIX}"})
    files = []
    for p in (p for pat in patterns for p in folder.glob(pat)):
        if is_temp(p) or not p.is_file():
            continue
        try:
            files.append((p.stat().st_mtime_ns, p.name, p))
        except FileNotFoundError:  # replaced between glob and stat
            continue
    return iter(p for _, _, p in sorted(files))


class CorruptShardError(DataError):
    """A shard file that cannot be read (truncated, garbled, not Parquet). `path` names it."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = Path(path)


def corrupt_error(path: Path, err: Exception) -> CorruptShardError:
    return CorruptShardError(path, (
        f"corrupt shard {path}: {err}. Move it aside (it is not a half-written file: those are "
        f"hidden .tmp files), re-run the writer for that run (resume redoes only missing rows), "
        f"then `ctxbench ingest`."
    ))


def shard_version(schema) -> int:
    """The store schema version a shard was written at (its Parquet metadata; 1 when unmarked)."""
    md = schema.metadata or {}
    raw = md.get(SCHEMA_META_KEY.encode())
    return int(raw) if raw else 1


def upgrade_arrow(table: str, t):
    """Recompute the derived columns (schema.DERIVED) of an Arrow table read from an older shard."""
    import pyarrow as pa

    if table not in DERIVED or t.num_rows == 0:
        return t
    rows = t.select(list(DERIVED_FROM[table])).to_pylist()
    new = [derive(table, r) for r in rows]
    for col in DERIVED[table]:
        i = t.schema.get_field_index(col)
        arr = pa.array([n[col] for n in new], type=pa.string())
        t = t.set_column(i, col, arr) if i >= 0 else t.append_column(col, arr)
    return t


def read_shard(path: Path, table: str, columns: list[str] | None = None, where: dict | None = None):
    """One shard as an Arrow table, with columns added since it was written filled with nulls and
    columns dropped from the schema ignored. A corrupt file raises DataError naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(table)
    want = columns or schema.names
    try:
        file_schema = pq.read_schema(path)
        present = set(file_schema.names)
        old = table in DERIVED and shard_version(file_schema) < SCHEMA_VERSION
        if old:  # derived columns are recomputed: read their inputs, filter on them afterwards
            read = list(dict.fromkeys([*want, *DERIVED_FROM[table]]))
            pre = {c: v for c, v in (where or {}).items() if c not in DERIVED[table]}
        else:
            read, pre = want, where
        if any(c not in present for c in pre or {}):  # column added later: all null, no match
            t = pq.read_table(path, columns=[c for c in read if c in present]).slice(0, 0)
        else:
            t = pq.read_table(path, columns=[c for c in read if c in present], filters=_filters(pre))
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as e:
        raise corrupt_error(path, e) from None
    if old:
        t = upgrade_arrow(table, _with_nulls(t, read, schema))
        post = {c: v for c, v in (where or {}).items() if c in DERIVED[table]}
        if post and t.num_rows:
            import pyarrow.compute as pc

            mask = None
            for c, v in post.items():
                vals = list(v) if isinstance(v, (list, tuple, set, frozenset)) else [v]
                m = pc.is_in(t.column(c), value_set=pa.array(vals, type=t.schema.field(c).type))
                mask = m if mask is None else pc.and_(mask, m)
            t = t.filter(mask)
    return _with_nulls(t, want, schema)


def _with_nulls(t, want: list[str], schema):
    """`t` with exactly the columns `want`, in order; columns it lacks are all null."""
    import pyarrow as pa

    cols = [t.column(c) if c in t.column_names else pa.nulls(t.num_rows, schema.field(c).type) for c in want]
    return pa.Table.from_arrays(cols, schema=pa.schema([schema.field(c) for c in want]))


def _filters(where: dict | None):
    if not where:
        return None
    out = []
    for c, v in where.items():
        if isinstance(v, (list, tuple, set, frozenset)):
            out.append((c, "in", list(v)))
        else:
            out.append((c, "=", v))
    return out


def read_arrow(root, table: str, where: dict | None = None, columns: list[str] | None = None,
               dedupe: bool = True):
    """All shards of a table as one Arrow table. `where` is {column: value or list of values}
    (equality / membership). With dedupe, one row per key, the latest shard winning (as ingest)."""
    import pyarrow as pa

    decl = table_decl(table)
    for c in list(where or {}) + list(columns or []):
        if c not in decl.columns:
            raise CtxbenchError(f"table {table!r}: unknown column {c!r}{did_you_mean(c, decl.columns)}")
    want = list(columns) if columns else list(decl.columns)
    read_cols = list(dict.fromkeys(want + (list(decl.key) if dedupe else [])))
    run = (where or {}).get("run_id")
    files = iter_shards(root, table, run_id=run if isinstance(run, str) else None)
    parts = [read_shard(p, table, read_cols, where) for p in files]
    schema = arrow_schema(table)
    if not parts:
        return pa.Table.from_arrays([pa.array([], schema.field(c).type) for c in want],
                                    schema=pa.schema([schema.field(c) for c in want]))
    t = pa.concat_tables(parts)
    if dedupe and t.num_rows:
        t = _last_per_key(t, decl.key)
    return t.select(want)


def _last_per_key(t, key: tuple[str, ...]):
    import numpy as np
    import pyarrow as pa

    n = t.num_rows
    idx = pa.array(np.arange(n))
    g = t.select(list(key)).append_column("__i", idx).group_by(list(key), use_threads=False)
    last = g.aggregate([("__i", "max")]).column("__i_max")
    if len(last) == n:
        return t
    return t.take(pa.array(np.sort(last.to_numpy())))


def read_table(root, table: str, where: dict | None = None, columns: list[str] | None = None,
               dedupe: bool = True):
    """All shards of a table as a pandas DataFrame (see `read_arrow`)."""
    return read_arrow(root, table, where, columns, dedupe).to_pandas()


def read_keys(root, table: str, run_id: str) -> set:
    """Keys already written for one run (reads only that run's files and key columns): the harness
    uses this to resume. Single-column keys come back as values, composite keys as tuples."""
    decl = table_decl(table)
    if "run_id" not in decl.columns:
        raise CtxbenchError(f"table {table!r} has no run_id column; use read_table")
    t = read_arrow(root, table, where={"run_id": run_id}, columns=list(decl.key), dedupe=False)
    if len(decl.key) == 1:
        return set(t.column(0).to_pylist())
    return set(zip(*(t.column(c).to_pylist() for c in decl.key)))
