"""Read-only access to the database for the report and the app.

Why a separate module: readers must never block the writer or each other. They open the live file
`read_only=True`; ingest publishes a new file with `os.replace`, so an open connection keeps a
consistent snapshot and a new one sees the latest ingest (`snapshot_id` tells the app when to
reconnect). `duckdb.connect(path)` is not used for that: DuckDB caches one database instance per path
per process, so while any connection to the path stays open, a new connect returns the *old*
instance (the file replaced since is never seen). Instead each reader gets a fresh in-memory
instance that ATTACHes the file READ_ONLY, with a view per table, so `con.cursor()` works as usual.
DuckDB 2.0: results are fetched with `.fetchall()`/`.df()` (a half-read `fetchone()`
blocks the connection), and every helper works on its own `con.cursor()`, because one connection is
not thread-safe and Streamlit serves sessions from threads. Every query is parameterised; only
column/table names from the schema (never user input) are pasted into SQL.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from ctxbench.core.errors import CtxbenchError, did_you_mean
from ctxbench.core.paths import db_path, run_root
from ctxbench.store.schema import TABLES


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
            if attempt == retries:
                raise CtxbenchError(f"cannot open {path} read-only: {e}. Another process holds it "
                                    "read-write; only `ctxbench ingest` should write it, and it never "
                                    "opens the live file") from None
            time.sleep(0.05 * 2**attempt)
        except FileNotFoundError:  # replaced between exists() and open: try again
            continue
    raise CtxbenchError(f"cannot open {path}")


def _ids(run_ids: Sequence[str] | None) -> list[str] | None:
    if run_ids is None:
        return None
    if isinstance(run_ids, str):
        return [run_ids]
    return [str(r) for r in run_ids]


def list_runs(con, kind: str | None = None):
    """The runs table, newest first (optionally one kind)."""
    cur = con.cursor()
    try:
        if kind is None:
            return cur.execute("SELECT * FROM runs ORDER BY created_at DESC NULLS LAST, run_id").df()
        return cur.execute("SELECT * FROM runs WHERE kind = ? ORDER BY created_at DESC NULLS LAST, run_id",
                           [kind]).df()
    finally:
        cur.close()


def samples_for_runs(con, run_ids: Sequence[str], benchmark: str | None = None,
                     columns: Sequence[str] | None = None):
    """Sample rows of some runs (optionally one benchmark), ordered by run, benchmark, item, sample."""
    known = TABLES["samples"].columns
    cols = list(columns) if columns else list(known)
    for c in cols:
        if c not in known:
            raise CtxbenchError(f"samples has no column {c!r}{did_you_mean(c, known)}")
    sel = ", ".join(f'"{c}"' for c in cols)
    q = f"SELECT {sel} FROM samples WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"
    params: list = [_ids(run_ids)]
    if benchmark is not None:
        q += " AND benchmark = ?"
        params.append(benchmark)
    q += " ORDER BY run_id, benchmark, item_id, sample_idx"
    cur = con.cursor()
    try:
        return cur.execute(q, params).df()
    finally:
        cur.close()


def run_benchmark_summary(con, run_ids: Sequence[str] | None = None):
    """Per (run, benchmark): arm, seed, model, version, items, samples, accuracy, mean score,
    extraction-failure rate and error rate (so a parse failure is never read as a wrong answer)."""
    q = """
        SELECT s.run_id, r.arm, r.seed, r.model, r.ckpt_id, s.benchmark, s.benchmark_version,
               count(DISTINCT s.item_id) AS n_items, count(*) AS n_samples,
               avg(CAST(s.correct AS DOUBLE)) AS accuracy,
               avg(coalesce(s.score, CAST(s.correct AS DOUBLE))) AS mean_score,
               avg(CAST(NOT s.parse_ok AS DOUBLE)) AS parse_fail_rate,
               avg(CAST(s.error IS NOT NULL AS DOUBLE)) AS error_rate,
               any_value(r.status) AS status
        FROM samples s LEFT JOIN runs r USING (run_id)
        {where}
        GROUP BY ALL ORDER BY s.benchmark, r.arm, r.seed, s.run_id"""
    ids = _ids(run_ids)
    cur = con.cursor()
    try:
        if ids is None:
            return cur.execute(q.format(where="")).df()
        return cur.execute(q.format(where="WHERE s.run_id IN (SELECT unnest(?::VARCHAR[]))"), [ids]).df()
    finally:
        cur.close()


def paired_items(con, benchmark: str, run_ids: Sequence[str], *, intersect: bool = True,
                 allow_mixed_versions: bool = False):
    """Long per-item frame for one benchmark across runs, ready for `ctxbench.stats.arms`:
    run_id, arm, seed, model, benchmark, benchmark_version, item_id, score (mean over samples of
    score, or of correct when score is null), n_samples.

    intersect: keep only items present in every run (deltas are never taken over different item
    sets). Runs scored on different benchmark versions are refused unless allow_mixed_versions.
    """
    ids = _ids(run_ids)
    cur = con.cursor()
    try:
        df = cur.execute(
            """
            SELECT s.run_id, r.arm, r.seed, r.model, s.benchmark, s.benchmark_version, s.item_id,
                   avg(coalesce(s.score, CAST(s.correct AS DOUBLE))) AS score,
                   count(*) AS n_samples
            FROM samples s LEFT JOIN runs r USING (run_id)
            WHERE s.benchmark = ? AND s.run_id IN (SELECT unnest(?::VARCHAR[]))
            GROUP BY ALL ORDER BY r.arm, r.seed, s.run_id, s.item_id""",
            [benchmark, ids]).df()
    finally:
        cur.close()
    versions = sorted(set(df["benchmark_version"]))
    if len(versions) > 1 and not allow_mixed_versions:
        per_run = df.groupby("run_id")["benchmark_version"].agg(lambda v: sorted(set(v))).to_dict()
        raise CtxbenchError(f"{benchmark}: runs were scored on different versions {versions} "
                            f"({per_run}); compare runs of one version, or pass allow_mixed_versions")
    if intersect and len(df):
        n_runs = df["run_id"].nunique()
        per_item = df.groupby("item_id")["run_id"].nunique()
        keep = per_item.index[per_item == n_runs]
        df = df[df["item_id"].isin(keep)].reset_index(drop=True)
    return df


def train_metrics(con, run_ids: Sequence[str], names: Sequence[str] | None = None):
    """Training curves: run_id, step, name, value (optionally only some metric names)."""
    q = "SELECT * FROM train_metrics WHERE run_id IN (SELECT unnest(?::VARCHAR[]))"
    params: list = [_ids(run_ids)]
    if names is not None:
        q += " AND name IN (SELECT unnest(?::VARCHAR[]))"
        params.append(list(names))
    cur = con.cursor()
    try:
        return cur.execute(q + " ORDER BY run_id, name, step", params).df()
    finally:
        cur.close()


def aggregates(con, run_ids: Sequence[str] | None = None):
    """Imported published numbers (no item rows): run_id, model, arm, benchmark, score, n_items."""
    cur = con.cursor()
    try:
        if run_ids is None:
            return cur.execute("SELECT * FROM aggregates ORDER BY run_id, model, arm, benchmark").df()
        return cur.execute("SELECT * FROM aggregates WHERE run_id IN (SELECT unnest(?::VARCHAR[])) "
                           "ORDER BY run_id, model, arm, benchmark", [_ids(run_ids)]).df()
    finally:
        cur.close()
