"""Every question the readers (`ctxbench ls`, the report, the app, the ablation summary) ask the
store, as named functions: parameters in, pandas frames out.

Why one home: SQL over the schema used to be written in four layers, so the same question (the runs
of an ablation, an item's score) had several spellings that could drift apart. Here each is written
once, next to the schema it reads, and the layers above call functions, never compose SQL.
Rules every function keeps:
- values (run ids, names, arms, search text) are bound as parameters, never pasted into SQL text;
  only table and column names declared in ctxbench.store.schema are;
- each runs on its own `con.cursor()` (one DuckDB connection is not thread-safe and Streamlit serves
  sessions from threads) and fetches the whole result (`.df()`), so `con` may be shared;
- `con` is any DuckDB connection, normally ctxbench.store.read.connect_readonly's snapshot.
Conventions (set by the ablation runner): every run of an ablation carries `runs.ablation = NAME`
and `runs.arm` / `runs.seed`; eval runs score task benchmarks and the probe; training runs log
`train_metrics`; published tables arrive as `aggregates` rows of import runs.
An item's score is the mean over its samples of `score`, or of `correct` where score is null.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ctxbench.core.errors import CtxbenchError, did_you_mean
from ctxbench.store.schema import TABLES

EVAL_KINDS = ("eval", "probe")  # run kinds whose samples are scored evaluations
PAIR_FACETS = ("domain", "split", "stage")  # pairs columns the app filters on
_ITEM_SCORE = "avg(coalesce(s.score, CAST(s.correct AS DOUBLE)))"
_IN_LIST = "IN (SELECT unnest(?::VARCHAR[]))"


def _frame(con, sql: str, params: Sequence = (), *, arrow: bool = False):
    """The whole result as a pandas frame. arrow=True fetches it through Arrow (`_arrow_frame`): the
    same frame as `.df()`, several times faster for a million rows of strings."""
    import duckdb

    cur = con.cursor()
    try:
        if arrow:
            return _arrow_frame(cur.sql(sql, params=list(params)).to_arrow_table())
        return cur.execute(sql, list(params)).df()
    except duckdb.Error as e:  # a truncated or corrupt file: found only when a query reads the block
        msg = str(e).lower()
        if not (isinstance(e, duckdb.IOException) or "corrupt" in msg or "checksum" in msg):
            raise
        from ctxbench.store.read import SNAPSHOT, damaged

        where = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [SNAPSHOT]).fetchone()
        raise damaged(Path(where[0]) if where and where[0] else Path("ctxbench.duckdb"), e) from None
    finally:
        cur.close()


def _arrow_frame(t):
    """An Arrow result as pandas with the dtypes DuckDB's `.df()` gives (so callers see no difference;
    tests/store/test_queries.py compares the two): integers and booleans holding a NULL become pandas'
    nullable Int*/boolean, an all-NULL string column is object; the rest converts as Arrow does. Why not
    `.df()`: it builds a Python str per value, 0.7 s of the 1M-row ablation load (bench/store_scale.py)."""
    import pandas as pd
    import pyarrow as pa

    cols = {}
    for name, col in zip(t.column_names, t.columns):
        typ = col.type
        if col.null_count and pa.types.is_integer(typ):
            nullable = pd.api.types.pandas_dtype(str(typ).replace("uint", "UInt").replace("int", "Int"))
            cols[name] = col.to_pandas(types_mapper={typ: nullable}.get)
        elif col.null_count and pa.types.is_boolean(typ):
            cols[name] = col.to_pandas(types_mapper={typ: pd.BooleanDtype()}.get)
        elif (pa.types.is_string(typ) or pa.types.is_large_string(typ)) and len(col) and col.null_count == len(col):
            cols[name] = pd.Series([None] * len(col), dtype=object)
        else:
            cols[name] = col.to_pandas()
    return pd.DataFrame(cols, columns=t.column_names)


def _column(table: str, name: str) -> str:
    """`name` quoted as a column of `table`; a name the schema does not declare is an error."""
    known = TABLES[table].columns
    if name not in known:
        raise CtxbenchError(f"{table} has no column {name!r}{did_you_mean(name, known)}")
    return f'"{name}"'


def _strs(values: str | Sequence[str]) -> list[str]:
    return [values] if isinstance(values, str) else [str(v) for v in values]


# ----------------------------------------------------------------------------------- runs, results

def runs(con, *, kinds: str | Sequence[str] | None = None, ablation: str | None = None,
         columns: Sequence[str] | None = None):
    """Runs rows, oldest first (runs without a time last, ties by run_id), optionally
    only some kinds and/or one ablation, and only some columns (default: all)."""
    sel = ", ".join(_column("runs", c) for c in columns) if columns else "*"
    where, params = [], []
    if kinds is not None:
        where.append(f"kind {_IN_LIST}")
        params.append(_strs(kinds))
    if ablation is not None:
        where.append("ablation = ?")
        params.append(ablation)
    cond = f"WHERE {' AND '.join(where)} " if where else ""
    return _frame(con, f"SELECT {sel} FROM runs {cond}ORDER BY created_at NULLS LAST, run_id", params)


def benchmark_results(con, *, kind: str | None = None):
    """Per (run, benchmark), ordered by run then benchmark: run_id, model, arm, seed, benchmark,
    version, n (samples), accuracy, parse_fail (samples whose answer did not parse), optionally
    only runs of one kind."""
    cond = "WHERE r.kind = ? " if kind is not None else ""
    return _frame(con, f"""
        SELECT s.run_id, r.model, r.arm, r.seed, s.benchmark, s.benchmark_version AS version,
               count(*) AS n, avg(CAST(s.correct AS DOUBLE)) AS accuracy,
               sum(CASE WHEN s.parse_ok THEN 0 ELSE 1 END) AS parse_fail
        FROM samples s LEFT JOIN runs r USING (run_id)
        {cond}GROUP BY ALL ORDER BY s.run_id, s.benchmark""", [kind] if kind is not None else [])


def table_counts(con) -> dict[str, int]:
    """{table: number of rows} for every table of the schema."""
    return {t: int(_frame(con, f'SELECT count(*) AS n FROM "{t}"')["n"].iloc[0]) for t in TABLES}


# ------------------------------------------------------------------------------------- ablations

def ablations(con):
    """Ablations in the store, newest first: ablation, n_runs, n_eval, n_train, n_import, last_at."""
    return _frame(con, f"""
        SELECT ablation, count(*) AS n_runs,
               count(*) FILTER (WHERE kind {_IN_LIST}) AS n_eval,
               count(*) FILTER (WHERE kind = 'train') AS n_train,
               count(*) FILTER (WHERE kind = 'import') AS n_import,
               max(created_at) AS last_at
        FROM runs WHERE ablation IS NOT NULL
        GROUP BY ablation ORDER BY last_at DESC NULLS LAST, ablation""", [list(EVAL_KINDS)])


def ablation_items(con, ablation: str, *, benchmark: str | None = None):
    """Per-item scores of the ablation's eval runs (optionally one benchmark): run_id, arm, seed,
    benchmark, benchmark_version, item_id, score (of record), n_samples, semantic_score (NULL in rows
    stored before both verdicts were) and verdict (which verdict `score` is); ordered by benchmark,
    arm, seed, item (the order the report compares them in: report.data keeps it).
    Runs without an arm or seed are included as they are (the caller decides)."""
    cond, params = "", [ablation, list(EVAL_KINDS)]
    if benchmark is not None:
        cond = "AND s.benchmark = ? "
        params.append(benchmark)
    return _frame(con, f"""
        SELECT s.run_id, r.arm, r.seed, s.benchmark, s.benchmark_version, s.item_id,
               {_ITEM_SCORE} AS score, count(*) AS n_samples,
               avg(s.semantic_score) AS semantic_score, max(s.verdict) AS verdict
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND r.kind {_IN_LIST} {cond}
        GROUP BY ALL ORDER BY s.benchmark, r.arm, r.seed, s.item_id""", params, arrow=True)


def eval_sample_scores(con, ablation: str):
    """One row per sample of the ablation's trained eval runs (kind "eval", the "base" arm left out):
    arm, seed, benchmark, item_id, score. What the ablation runner's summary compares."""
    return _frame(con, """
        SELECT r.arm, r.seed, s.benchmark, s.item_id, s.score
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND r.kind = 'eval' AND r.arm <> 'base'""", [ablation], arrow=True)


def ablation_train_metrics(con, ablation: str):
    """Training curves of the ablation's train runs: run_id, arm, seed, step, name, value; ordered by
    arm, seed, name, step."""
    return _frame(con, """
        SELECT m.run_id, r.arm, r.seed, m.step, m.name, m.value
        FROM train_metrics m JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND r.kind = 'train'
        ORDER BY r.arm, r.seed, m.name, m.step""", [ablation])


def aggregates(con, ablation: str | None):
    """Published numbers: run_id, run_name, table_key, model, arm, benchmark, score, n_items; ordered
    by table_key, model, arm, benchmark. `ablation`: the rows of that ablation's runs; None: the rows
    of import runs tied to no ablation.

    The aggregates key is (run_id, benchmark): an import run holds one (model, arm) row of a published
    table, so one table is the import runs sharing an ablation label or, without one, a config hash
    (one import invocation). `table_key` names that group."""
    cond = "r.kind = 'import' AND r.ablation IS NULL" if ablation is None else "r.ablation = ?"
    return _frame(con, f"""
        SELECT a.run_id, r.name AS run_name, coalesce(r.ablation, r.config_hash, a.run_id) AS table_key,
               a.model, a.arm, a.benchmark, a.score, a.n_items
        FROM aggregates a LEFT JOIN runs r USING (run_id) WHERE {cond}
        ORDER BY table_key, a.model, a.arm, a.benchmark""", [] if ablation is None else [ablation])


# ----------------------------------------------------------------------------------------- items

def verdict_disagreements(con, ablation: str, benchmark: str, *, limit: int = 500):
    """Samples of the ablation's eval runs where the official and the semantic verdict differ: run_id,
    arm, seed, item_id, verdict, output, extracted, correct (official), semantic_extracted,
    semantic_correct; ordered by item, arm, seed. Rows without a semantic verdict are left out."""
    return _frame(con, f"""
        SELECT s.run_id, r.arm, coalesce(r.seed, 0) AS seed, s.item_id, s.verdict, s.output, s.extracted,
               s.correct, s.semantic_extracted, s.semantic_correct
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND r.kind {_IN_LIST} AND s.benchmark = ? AND r.arm IS NOT NULL
              AND s.semantic_correct IS NOT NULL AND s.correct IS DISTINCT FROM s.semantic_correct
        ORDER BY s.item_id, r.arm, seed LIMIT ?""", [ablation, list(EVAL_KINDS), benchmark, int(limit)])


def item_samples(con, ablation: str, benchmark: str, item_id: str):
    """Every sample of one item in the ablation's eval runs that have an arm: run_id, arm, seed (0 when
    null), benchmark, item_uid, sample_idx, output, extracted, correct, score, parse_ok, error;
    ordered by arm, seed, sample_idx."""
    return _frame(con, f"""
        SELECT s.run_id, r.arm, coalesce(r.seed, 0) AS seed, s.benchmark, s.item_uid, s.sample_idx,
               s.output, s.extracted, s.correct, s.score, s.parse_ok, s.error, s.verdict,
               s.semantic_extracted, s.semantic_correct
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND s.benchmark = ? AND s.item_id = ? AND r.arm IS NOT NULL
          AND r.kind {_IN_LIST}
        ORDER BY r.arm, r.seed, s.sample_idx""", [ablation, benchmark, item_id, list(EVAL_KINDS)])


def item_rows(con, benchmark: str, item_id: str, item_uid: str | None = None):
    """items rows (all columns): the one rendering `item_uid` when given, else every rendering of
    (benchmark, item_id)."""
    if item_uid is not None:
        return _frame(con, "SELECT * FROM items WHERE item_uid = ?", [item_uid])
    return _frame(con, "SELECT * FROM items WHERE benchmark = ? AND item_id = ?", [benchmark, item_id])


# ----------------------------------------------------------------------------------------- pairs

def pair_facets(con) -> dict:
    """{column: its distinct non-null values, sorted} for each of PAIR_FACETS, and "n": the number
    of pairs."""
    out: dict = {}
    for name in PAIR_FACETS:
        col = _column("pairs", name)
        vals = _frame(con, f"SELECT DISTINCT {col} AS v FROM pairs WHERE {col} IS NOT NULL ORDER BY v")
        out[name] = vals["v"].tolist()
    out["n"] = int(_frame(con, "SELECT count(*) AS n FROM pairs")["n"].iloc[0])
    return out


def _like(text: str) -> str:
    """An ILIKE pattern matching `text` literally (%, _ and \\ escaped)."""
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


def find_pairs(con, *, domain: str | None = None, split: str | None = None, stage: str | None = None,
               search: str | None = None, limit: int):
    """Pairs matching every given filter (None: no filter), ordered by pair_id, at most `limit`:
    pair_id, domain, split, stage, source, query, answer. `search` is a case-insensitive literal
    substring of the id, query, answer or either context (surrounding blanks ignored; blank: none)."""
    pat = _like(search.strip()) if search and search.strip() else None
    return _frame(con, r"""
        SELECT pair_id, domain, split, stage, source, query, answer
        FROM pairs
        WHERE (? IS NULL OR domain = ?) AND (? IS NULL OR split = ?) AND (? IS NULL OR stage = ?)
          AND (? IS NULL OR pair_id ILIKE ? ESCAPE '\' OR query ILIKE ? ESCAPE '\'
               OR answer ILIKE ? ESCAPE '\' OR ctx_pos ILIKE ? ESCAPE '\' OR ctx_neg ILIKE ? ESCAPE '\')
        ORDER BY pair_id LIMIT ?""",
                  [domain, domain, split, split, stage, stage, pat, pat, pat, pat, pat, pat, int(limit)])


def pair_row(con, pair_id: str):
    """The pairs row (all columns) with this id: a frame of one row, or empty."""
    return _frame(con, "SELECT * FROM pairs WHERE pair_id = ?", [pair_id])
