"""Read-only connections to the database for the readers (ls, the report, the app).

Why a separate module: readers must never block the writer or each other. They open the live file
`read_only=True`; ingest publishes a new file with `os.replace`, so an open connection keeps a
consistent snapshot and a new one sees the latest ingest (`snapshot_id` tells the app when to
reconnect). `duckdb.connect(path)` is not used for that: DuckDB caches one database instance per path
per process, so while any connection to the path stays open, a new connect returns the *old*
instance (the file replaced since is never seen). Instead each reader gets a fresh in-memory
instance that ATTACHes the file READ_ONLY, with a view per table, so `con.cursor()` works as usual.
The questions readers ask of such a connection are the functions of ctxbench.store.queries (each on
its own `con.cursor()`, fetched whole: one DuckDB 2.0 connection is not thread-safe, Streamlit
serves sessions from threads, and a half-read `fetchone()` blocks the connection).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ctxbench.core.errors import CtxbenchError
from ctxbench.core.paths import db_path, run_root


def snapshot_id(root=None) -> tuple[int, int] | None:
    """(inode, mtime_ns) of the live database, None if absent: changes whenever ingest publishes."""
    try:
        st = os.stat(db_path(Path(run_root(root))))
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns)


SNAPSHOT = "snap"


def open_snapshot(path):
    """A new in-memory DuckDB instance with the file at `path` attached READ_ONLY as `snap` and a
    view per table in the default catalog (visible to every `con.cursor()`)."""
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH ? AS {SNAPSHOT} (READ_ONLY)", [str(path)])
        names = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                            "WHERE table_catalog = ?", [SNAPSHOT]).fetchall()
        for schema, name in names:
            q = '"' + name.replace('"', '""') + '"'
            qs = '"' + schema.replace('"', '""') + '"'
            con.execute(f"CREATE VIEW memory.main.{q} AS SELECT * FROM {SNAPSHOT}.{qs}.{q}")
    except BaseException:
        con.close()
        raise
    return con


def damaged(path: Path, err: Exception) -> CtxbenchError:
    """The one-line error for a database file that cannot be read: the shards can always rebuild it."""
    first = (str(err).splitlines() or [type(err).__name__])[0]
    return CtxbenchError(f"{path} is damaged or not a ctxbench database ({first}); the shards are the source "
                         f"of truth: rebuild it with `ctxbench ingest --rebuild --root {path.parent}`")


def connect_readonly(root=None, *, missing_ok: bool = False, retries: int = 5):
    """A read-only DuckDB connection on a snapshot of the live database (see `open_snapshot`):
    it keeps seeing the data as of opening, whatever ingest publishes later. No database yet: None with
    missing_ok, else a CtxbenchError saying to run `ctxbench ingest`. A lock held by a foreign
    read-write process (never ingest) is retried with backoff, then reported clearly."""
    import duckdb

    path = db_path(Path(run_root(root)))
    for attempt in range(retries + 1):
        if not path.exists():
            if missing_ok:
                return None
            raise CtxbenchError(f"no database at {path}; run `ctxbench ingest --root {path.parent}` "
                                "after an eval or training run has written shards")
        try:
            return open_snapshot(path)
        except duckdb.IOException as e:
            if "lock" not in str(e).lower():  # a truncated or garbled file, not a writer holding it
                raise damaged(path, e) from None
            if attempt == retries:
                raise CtxbenchError(f"cannot open {path} read-only: {e}. Another process holds it "
                                    "read-write; only `ctxbench ingest` should write it, and it never "
                                    "opens the live file") from None
            time.sleep(0.05 * 2**attempt)
        except FileNotFoundError:  # replaced between exists() and open: try again
            continue
        except duckdb.Error as e:  # corrupt blocks, bad checksums, not a DuckDB file
            raise damaged(path, e) from None
    raise CtxbenchError(f"cannot open {path}")
