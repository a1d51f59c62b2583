"""Ingest: fold new shards into the DuckDB database. The only code that writes DuckDB.

Why this shape (readers must never see a lock error or half an ingest; docs/architecture.md, Store):
- A DuckDB process holding the file read-write blocks every other process from opening it, even
  read-only. So ingest never writes the live file: it copies it to a private temporary file (or
  starts a fresh one), writes there, CHECKPOINTs, closes, fsyncs and `os.replace`s it over the live
  name. A reader that opened the old file keeps its consistent snapshot (the old inode lives until
  it closes); a new reader gets the new one; nobody ever sees a lock error or half an ingest.
- Ingest is idempotent: rows are keyed (schema.TABLES[..].key). Within a batch the latest shard wins
  (mtime, then name, then row order), and existing rows with those keys are deleted before insert.
  A batch whose keys are all distinct (the usual case) is one INSERT ... SELECT from read_parquet over
  its file list, casts in SQL (1M rows in ~1.3 s here, bench/store_scale.py); only a batch with a
  repeated key or an older shard is staged first.
- A full disk fails the ingest with one line (core.atomic.DiskFullError); the live file is untouched.
- A manifest table (`_ingested`: shard path, size, mtime, sha256, rows) remembers what was folded
  in, so re-running costs a `stat` per shard; a shard rewritten under the same name is re-read.
- The database records the store schema version it was built at (`_meta`); a database of an older
  version is rebuilt from the shards, and shards written before a version change have their derived
  columns (keys, item uids) recomputed as they are read (schema.derive), so old and new rows of the
  same sample share one key and are never stored twice.
- A shard that cannot be read (truncated, garbled) does not stop the ingest: it is moved to
  `<root>/quarantine/<table>/`, named in a warning, and every other shard is ingested. Its rows come back
  when its writer re-runs (resume recomputes exactly the missing rows).
- A `fcntl` lock serialises ingests; a crashed ingest leaves only its temporary file, which the next
  one deletes. `rebuild` builds the database from the shards alone: shards are the source of truth.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from ctxbench.core.atomic import disk_full_guard, fsync_dir, is_temp
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import file_sha256
from ctxbench.core.paths import db_path, run_root
from ctxbench.store.schema import DERIVED, SCHEMA_VERSION, TABLES, create_sql
from ctxbench.store.shards import (
    CorruptShardError,
    corrupt_error,
    iter_shards,
    read_shard,
    shard_version,
    shards_dir,
)

MANIFEST = "_ingested"
MANIFEST_SQL = (f"CREATE TABLE IF NOT EXISTS {MANIFEST} (path VARCHAR, table_name VARCHAR, size BIGINT, "
                "mtime_ns BIGINT, sha256 VARCHAR, n_rows BIGINT, ingested_at TIMESTAMP)")
META = "_meta"  # key/value facts about the database itself (schema_version)
BATCH_FILES = 256  # shards per transaction: one quarantine retry redoes at most this many
STALE_SHARD_TMP_S = 24 * 3600
WAIT_NOTICE_S = 1.0  # a wait for another ingest longer than this is announced


def lock_path(root: Path) -> Path:
    return db_path(root).with_name(db_path(root).name + ".ingest.lock")


@contextmanager
def ingest_lock(root: Path, timeout: float = 600.0):
    """Exclusive cross-process lock for ingest (fcntl.flock on a side file)."""
    root.mkdir(parents=True, exist_ok=True)
    path = lock_path(root)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        start = time.monotonic()
        said = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                waited = time.monotonic() - start
                if waited >= timeout:
                    raise CtxbenchError(f"another ingest holds {path} (pid {holder}) for more than "
                                        f"{timeout:.0f}s; wait for it or stop that process") from None
                if waited >= WAIT_NOTICE_S and not said:  # two evals finishing together: say why it pauses
                    print(f"ctxbench ingest: another ingest (pid {holder}) is updating {root}; waiting for it "
                          f"to finish (at most {timeout:.0f}s)", file=sys.stderr)
                    said = True
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def _pending(root: Path, manifest: dict[str, tuple]) -> tuple[dict[str, list[Path]], list[tuple]]:
    """Shards not yet ingested (per table), and manifest rows to refresh (same sha, new stat)."""
    pending: dict[str, list[Path]] = {}
    touched: list[tuple] = []
    for table in TABLES:
        for p in iter_shards(root, table):
            st = p.stat()
            old = manifest.get(_rel(root, p))
            if old and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                continue
            if old and old[0] == st.st_size and file_sha256(p) == old[2]:
                touched.append((_rel(root, p), st.st_size, st.st_mtime_ns))
                continue
            pending.setdefault(table, []).append(p)
    return pending, touched


def _read_manifest(con) -> dict[str, tuple]:
    rows = con.execute(f"SELECT path, size, mtime_ns, sha256 FROM {MANIFEST}").fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _live_manifest(db: Path) -> dict[str, tuple] | None:
    """The live database's manifest, read-only; None when there is no usable live database."""
    import duckdb

    from ctxbench.store.read import open_snapshot

    if not db.exists():
        return None
    try:
        con = open_snapshot(db)  # not duckdb.connect(db): that may return a cached, stale instance
    except duckdb.Error:
        return None
    try:
        tables = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal"
                                            ).fetchall()}
        if MANIFEST not in tables or not set(TABLES) <= tables:
            return None
        version = (con.execute(f"SELECT v FROM {META} WHERE k = 'schema_version'").fetchall()
                   if META in tables else [])
        if not version or int(version[0][0]) != SCHEMA_VERSION:
            print(f"ctxbench ingest: the database is at store schema {version[0][0] if version else 1}, this "
                  f"ctxbench writes {SCHEMA_VERSION}; rebuilding it from the shards", file=sys.stderr)
            return None
        return _read_manifest(con)
    finally:
        con.close()


def _cleanup(root: Path, db: Path) -> None:
    for p in db.parent.glob(db.name + ".ingest-*"):  # from crashed ingests (we hold the lock)
        p.unlink(missing_ok=True)
    now = time.time()
    for table in TABLES:
        folder = shards_dir(root, table)
        if folder.is_dir():
            for p in folder.iterdir():
                if is_temp(p) and now - p.stat().st_mtime > STALE_SHARD_TMP_S:
                    p.unlink(missing_ok=True)


def _prepare(con) -> None:
    """Create missing tables and add columns declared since the database was built."""
    con.execute(MANIFEST_SQL)
    con.execute(f"CREATE TABLE IF NOT EXISTS {META} (k VARCHAR, v VARCHAR)")
    con.execute(f"DELETE FROM {META} WHERE k = 'schema_version'")
    con.execute(f"INSERT INTO {META} VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    for name, decl in TABLES.items():
        con.execute(create_sql(name))
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [name]).fetchall()}
        for col, typ in decl.columns.items():
            if col not in have:
                con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{col}" {typ}')


def _scan(root: Path, table: str, files: list[Path]) -> tuple[list[tuple], set[str], list[Path]]:
    """Manifest rows, the union of column names, and the shards older than the schema, read from each
    shard's stat, hash and Parquet footer *before* its rows (a shard replaced meanwhile is re-read next
    time). A file whose footer cannot be read is a CorruptShardError naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    present: set[str] = set()
    manifest_rows, old = [], []
    for p in files:
        st = p.stat()
        sha = file_sha256(p)
        try:
            md = pq.read_metadata(p)
        except (pa.ArrowException, OSError) as e:
            raise corrupt_error(p, e) from None
        present.update(md.schema.names)
        manifest_rows.append((_rel(root, p), table, st.st_size, st.st_mtime_ns, sha, md.num_rows))
        if table in DERIVED and shard_version(md.schema.to_arrow_schema()) < SCHEMA_VERSION:
            old.append(p)
    return manifest_rows, present, old


def _has_duplicate_keys(con, key: str, paths: list[str]) -> bool:
    """Whether two rows of these shards share a key. Compares 64-bit hashes of the key: equal keys always
    hash alike, so False is exact; a (vanishingly rare) collision only sends the batch down the slower,
    exact path."""
    n, distinct = con.execute(f"SELECT count(*), count(DISTINCT hash({key})) FROM read_parquet(?, union_by_name=true)",
                              [paths]).fetchall()[0]
    return n != distinct


def _stage_latest(con, table: str, sel: str, key: str, files: list[Path], old: list[Path]) -> str:
    """The batch's rows, one per key (the latest shard, then the latest row, wins), as TEMP TABLE
    __stage; the rows of older shards have their derived columns recomputed (module docstring)."""
    paths = [str(p) for p in files]
    new = [str(p) for p in files if p not in old]
    sources, params = [], []
    if new:
        sources.append("SELECT * FROM read_parquet(?, filename=true, file_row_number=true, union_by_name=true)")
        params.append(new)
    if old:
        con.register("__old", _old_rows(table, old))
        sources.append("SELECT * FROM __old")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE __stage AS SELECT {sel} FROM (
              SELECT s.*, o.ord FROM ({" UNION ALL BY NAME ".join(sources)}) s
              JOIN (SELECT unnest(?) AS filename, unnest(?) AS ord) o USING (filename)
              QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY o.ord DESC,
                                         s.file_row_number DESC) = 1)""",
        [*params, paths, list(range(len(paths)))])
    if old:
        con.unregister("__old")
    return "__stage"


def _ingest_batch(con, root: Path, table: str, files: list[Path]) -> None:
    """Replace the rows of the batch's keys by the batch's rows (one per key) and record the shards.

    The usual batch (current-schema shards, no key twice) is one INSERT ... SELECT straight from
    read_parquet over the file list, the casts done in SQL: no staging copy, no window over the rows.
    A batch with a repeated key or an older shard is first staged, one row per key (`_stage_latest`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    decl = TABLES[table]
    manifest_rows, present, old = _scan(root, table, files)
    cast = {c: f'CAST("{c}" AS {t})' if c in present else f"CAST(NULL AS {t})" for c, t in decl.columns.items()}
    sel = ", ".join(f'{v} AS "{c}"' for c, v in cast.items())
    key = ", ".join(f'"{k}"' for k in decl.key)
    cols = ", ".join(f'"{c}"' for c in decl.columns)
    paths = [str(p) for p in files]
    try:
        if old or _has_duplicate_keys(con, key, paths):
            src, params = _stage_latest(con, table, sel, key, files, old), []
        else:
            src, params = f"(SELECT {sel} FROM read_parquet(?, union_by_name=true))", [paths]
        if con.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchall()[0][0]:
            keys = ", ".join(f'{cast[k]} AS "{k}"' for k in decl.key)
            ksrc = "__stage" if src == "__stage" else f"(SELECT {keys} FROM read_parquet(?, union_by_name=true))"
            on = " AND ".join(f'"{table}"."{k}" = __new."{k}"' for k in decl.key)
            con.execute(f'DELETE FROM "{table}" USING {ksrc} AS __new WHERE {on}', params)
        con.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM {src}', params)
    except CorruptShardError:
        raise
    except Exception as e:  # name the file when DuckDB can read one of them but not all
        for p in files:
            try:
                pq.read_table(p)
            except (pa.ArrowException, OSError) as e2:
                raise corrupt_error(p, e2) from None
        raise CtxbenchError(f"ingest of {table} shards {paths[0]} .. failed: {e}") from e
    con.execute("DROP TABLE IF EXISTS __stage")
    con.execute(f"DELETE FROM {MANIFEST} WHERE path IN (SELECT unnest(?::VARCHAR[]))",
                [[r[0] for r in manifest_rows]])
    con.executemany(f"INSERT INTO {MANIFEST} VALUES (?, ?, ?, ?, ?, ?, now()::TIMESTAMP)", manifest_rows)


QUARANTINE = "quarantine"


def quarantine(root: Path, err: CorruptShardError) -> Path:
    """Move an unreadable shard out of shards/ (so no reader or ingest trips on it again) and say so."""
    src = err.path
    dest = root / QUARANTINE / src.parent.name / f"{src.name}.{time.strftime('%Y%m%dT%H%M%S')}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(src, dest)
    fsync_dir(src.parent)
    print(f"ctxbench ingest: quarantined an unreadable shard: {src} -> {dest}; the other shards are ingested. "
          f"({err}) Its rows come back when its writer re-runs.", file=sys.stderr)
    return dest


def _old_rows(table: str, files: list[Path]):
    """Rows of pre-current-schema shards as one Arrow table, upgraded, with the `filename` and
    `file_row_number` columns read_parquet adds (the stage orders rows by them)."""
    import pyarrow as pa

    parts = []
    for p in files:
        t = read_shard(p, table)  # recomputes the derived columns of an old shard
        t = t.append_column("filename", pa.array([str(p)] * t.num_rows, pa.string()))
        parts.append(t.append_column("file_row_number", pa.array(range(t.num_rows), pa.int64())))
    return pa.concat_tables(parts)


def _count(con, table: str) -> int:
    return con.execute(f'SELECT count(*) FROM "{table}"').fetchall()[0][0]


def ingest(root=None, *, fresh: bool = False, progress: bool = True, lock_timeout: float = 600.0
           ) -> dict[str, int]:
    """Fold every not-yet-ingested shard under `root` into `<root>/ctxbench.duckdb`.

    Returns {table: rows added} (new keys; rows that replaced an existing key are not counted).
    fresh=True ignores the existing database and rebuilds from all shards (see `rebuild`).
    Safe to run while writers add shards (they never touch the database) and while readers hold
    the database open (they keep their snapshot).
    """
    root = Path(run_root(root))
    db = db_path(root)
    with ingest_lock(root, lock_timeout):
        _cleanup(root, db)
        live_wal = db.with_name(db.name + ".wal")
        if live_wal.exists():
            aside = live_wal.with_name(f"{live_wal.name}.stale-{time.strftime('%Y%m%dT%H%M%S')}")
            print(f"ctxbench ingest: {live_wal} exists (something opened the database read-write "
                  f"outside ingest); moved it to {aside.name} and rebuilding from shards", file=sys.stderr)
            os.replace(live_wal, aside)
            fresh = True
        manifest = None if fresh else _live_manifest(db)
        if manifest is not None:
            pending, touched = _pending(root, manifest)
            if not pending and not touched:
                return {t: 0 for t in TABLES}
        tmp = db.with_name(f"{db.name}.ingest-{os.getpid()}")
        try:
            with disk_full_guard(db, f"the database {db}"):  # the live file stays the old snapshot
                if manifest is not None:
                    shutil.copyfile(db, tmp)
                else:
                    pending, touched = _pending(root, {})
                added = _build(tmp, root, pending, touched, progress)
                with open(tmp, "rb+") as f:
                    os.fsync(f.fileno())
                os.replace(tmp, db)
            fsync_dir(db.parent)
        finally:
            tmp.unlink(missing_ok=True)
            tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        return added


def _build(tmp: Path, root: Path, pending: dict[str, list[Path]], touched: list[tuple], progress: bool
           ) -> dict[str, int]:
    """Fold the pending shards into the private database file `tmp`; {table: rows added}."""
    import duckdb
    from tqdm import tqdm

    added: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        # Row order in a table means nothing here (every reader orders explicitly); letting DuckDB
        # write rows in any order made the 1M-row insert ~25% faster (bench/store_scale.py).
        con.execute("SET preserve_insertion_order = false")
        _prepare(con)
        if touched:
            con.executemany(f"UPDATE {MANIFEST} SET size = ?, mtime_ns = ? WHERE path = ?",
                            [(s, m, p) for p, s, m in touched])
        total = sum(len(v) for v in pending.values())
        bar = tqdm(total=total, unit="shard", desc="ingest", file=sys.stderr, disable=not progress or total == 0)
        for table in TABLES:
            files = pending.get(table, [])
            before = _count(con, table)
            for i in range(0, len(files), BATCH_FILES):
                batch = files[i:i + BATCH_FILES]
                n = len(batch)
                while batch:
                    con.execute("BEGIN")
                    try:
                        _ingest_batch(con, root, table, batch)
                    except CorruptShardError as e:  # set it aside, ingest the rest
                        con.execute("ROLLBACK")
                        quarantine(root, e)
                        batch = [p for p in batch if p != e.path]
                        continue
                    con.execute("COMMIT")
                    break
                bar.update(n)
            added[table] = _count(con, table) - before
        bar.close()
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return added


def rebuild(root=None, *, progress: bool = True, lock_timeout: float = 600.0) -> dict[str, int]:
    """Build the database from the shards alone and publish it atomically (rows per table)."""
    return ingest(root, fresh=True, progress=progress, lock_timeout=lock_timeout)
